"""Molmo2 (docs/spec/molmo2.md): the second architecture family behind `MolmoConfig(family="molmo2")`."""
