"""Building, training, saving and loading the recurrent models."""
