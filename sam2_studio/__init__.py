"""SAM2 Studio: a desktop video segmentation editor built on our own SAM 2 implementation."""

__version__ = "0.1.0"
