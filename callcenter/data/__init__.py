"""The hotline's data foundation (GB/T 44192 5, 6, 8): catalogue, collection, governance,
fusion and protection."""
