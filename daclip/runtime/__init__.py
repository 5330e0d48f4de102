"""Training runtime shared by both trainers: checkpoints, the torchrun process group, schedules."""
