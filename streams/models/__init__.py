"""Shipped model files: the ONNX detector, its spec/card and its lab reference profile."""
