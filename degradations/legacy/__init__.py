"""Renderers of earlier params versions, kept so that recorded params replay bit-exact."""
