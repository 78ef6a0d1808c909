"""The quantization ladder: llama.cpp quantizes, we measure what each rung costs in pt-PT.

Run from a checkout as ``python -m quant SOURCE.gguf --types Q8_0,Q4_K_M --outdir DIR``.
Modules, one concern each: :mod:`quant.types` (names llama.cpp understands),
:mod:`quant.quantize` (the C call, temporary names, progress), :mod:`quant.imatrix`
(importance matrix from calibration text), :mod:`quant.evaluate` (perplexity, KL
divergence, top-1 agreement), :mod:`quant.variety_data`, :mod:`quant.variety` and
:mod:`quant.variety_report` (how European the Portuguese stays), :mod:`quant.report`
(report.json, report.md, manifest.json, model card), :mod:`quant.ladder` (checks, the
whole run, speed) and :mod:`quant.cli`.
"""
