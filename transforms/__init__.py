"""The pipeline's stages: each a Beam PTransform over plain functions that know nothing of Beam."""
