"""Where data comes from: rule-made sequences and real series, their splits and truth."""
