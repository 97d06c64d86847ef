"""Serving: the model store, the worker processes that own TensorFlow, hosting, uploads."""
