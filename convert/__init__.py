"""Convert Hugging Face Llama-family safetensors checkpoints (AMALIA, EuroLLM, Mistral) to GGUF.

Run from a checkout: ``python -m convert HF_DIR``. Modules, one concern each:
``safetensors_reader`` (memory-mapped shards), ``hparams`` (config.json → metadata),
``tokenizer`` (vocabulary) with ``spm_model`` (tokenizer.model reader), ``tensors``
(name/shape/layout mapping and encoding), ``writer`` (streaming GGUF output), ``core``
(orchestration), ``cli``, ``errors``. Progress display lives in
:mod:`amalia_local.progress`, shared with downloads.
"""
