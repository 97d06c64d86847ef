"""What a result says: sentences made from numbers, figures and lessons."""
