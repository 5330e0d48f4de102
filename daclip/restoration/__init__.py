"""IR-SDE image restoration conditioned on DA-CLIP embeddings.

- ``unet`` (+ ``unet_blocks``): the conditional U-Net; ``sde``: the IR-SDE schedule and losses; ``samplers``: its reverse samplers (no weights);
- ``model``: the model factory (``restore_configs/*.json``), EMA, checkpoints, conditioning;
- ``restore``: tiling + the sampling loop, and ``daclip restore``;
- ``metrics``: PSNR/SSIM/LPIPS with the paper conventions;
- ``evaluate``: ``daclip evaluate-restore`` and the trainer's validation PSNR;
- ``trainer``: the ``train-restore`` console script (``train_command``: its flags; ``config``: its settings);
- ``nafnet`` (+ ``nafnet_blocks``): the one-step NAFNet; ``onestep``: its config, factory and checkpoints;
  ``onestep_restore``: its tiled one-call restore; ``onestep_trainer``: ``train-restore --arch nafnet``;
- ``arrays``: uint8 images to and from tensors.
"""
