"""What only a per-pixel generator can do (the paper's Figs. 8-11, 15, 17-19), one concept per module.

    render          shared: latents of seeds, styles, chunked rendering of any coordinate set
    foveated        Fig. 8: a Gaussian subset of the grid, the rest filled by interpolation, error and time
    superres        Fig. 9: denser grids beside Lanczos upsampling, with spectra
    interpolation   Fig. 10: linear in w, or slerp in z
    panorama        Figs. 11, 17: cylindrical panoramas, the wrap-around seam, per-pixel style blending
    neighbours      Fig. 18: nearest training images in Inception feature space
    mixing          Fig. 19: layer-wise style mixing
    subjects        which runs of params.yaml each figure shows (Fig. 15's patch runs among them)
    sections        the arrays of every figure, as the `beyond` stage and the commands write them

Per-pixel noise is off (noise_mode "zero") everywhere here: a subset, a denser grid or a wider one
cannot share the training grid's per-pixel noise, and comparisons need the same image.
"""
