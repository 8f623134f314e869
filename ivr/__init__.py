"""Pure IVR menu flows."""
