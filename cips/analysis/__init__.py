"""Analyses of trained generators behind the paper's figures (not quality metrics).

Modules: `spectrum` (Fig. 7: mean magnitude spectra and azimuthal profiles of image sets, and the work of
stage spectra), `encodings` (Figs. 3-6: spectra and PCA of the positional encodings, zeroed encodings, the
mean style; the work of stage encodings), `budgets` (the analysed runs' twins at the scale's other training
budgets, whose per-seed data the claims judge there).
"""
