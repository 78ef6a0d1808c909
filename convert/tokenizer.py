"""Hugging Face tokenizer files → llama.cpp's SentencePiece ("llama") vocabulary.

llama.cpp tokenizes SentencePiece-BPE text by repeatedly merging the adjacent pair of
symbols whose concatenation is a token with the highest *score* (leftmost on ties),
then falling back to ``<0xNN>`` byte tokens for anything left over. So the scores are
not decoration: they are the merge order.

* With ``tokenizer.model`` the scores are the SentencePiece model's own (for BPE
  models: minus the order in which each piece was learned), read by :mod:`convert.spm_model`
  so the converter does not need the ``sentencepiece`` package.
* With ``tokenizer.json`` only, there are no scores, just an ordered merge list. The
  Hugging Face BPE applies the lowest-ranked merge first, so we give each token the
  score ``-rank`` of the first merge that produces it. A constant placeholder score
  (what a naive converter writes) turns llama.cpp's merge order into "leftmost pair
  first", which tokenizes ordinary text differently; the tests prove the difference.

Special and added tokens get llama.cpp token types: ``CONTROL`` for special tokens
(only parsed from text on request, hidden on output), ``USER_DEFINED`` for added
non-special tokens (always split out of text), ``BYTE`` for ``<0xNN>``, ``UNKNOWN``,
``UNUSED`` for padding rows.

Where SentencePiece's ``▁`` prefix goes is decided by :mod:`convert.prefix_rule` (as
transformers decides it) and stored under ``amalia.tokenizer.space_prefix``; the engine
follows it exactly (:mod:`amalia_local.engine.tokenizer`).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gguf

from amalia_local.engine.space_prefix import RULE_KEY, SpacePrefix
from convert import prefix_rule
from convert.errors import CorruptCheckpointError, MissingFileError, UnsupportedError
from convert.spm_model import BPE_MODEL, parse_sentencepiece

T = gguf.TokenType
_BYTE_TOKEN = re.compile(r"<0x[0-9A-Fa-f]{2}>")


@dataclass
class Vocabulary:
    """Everything the GGUF ``tokenizer.*`` keys need, independent of the source layout."""

    tokens: list[str]
    scores: list[float]
    types: list[int]
    add_space_prefix: bool = True
    # where transformers puts the dummy prefix; our engine follows it exactly
    space_prefix: SpacePrefix = SpacePrefix.SENTENCEPIECE
    special_ids: dict[str, int] = field(default_factory=dict)  # bos, eos, unk, pad
    eot_id: int | None = None
    eom_id: int | None = None
    add_bos: bool | None = None
    add_eos: bool | None = None
    chat_template: Any = None
    source: str = ""
    warnings: list[str] = field(default_factory=list)

    def index(self) -> dict[str, int]:
        """Token text -> id; build once the token list is final (texts are unique)."""
        return {t: i for i, t in enumerate(self.tokens)}


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorruptCheckpointError(f"{path.name} is not valid JSON ({e})") from e


def _from_sentencepiece(path: Path) -> tuple[Vocabulary, dict[str, int], bool]:
    try:
        spm = parse_sentencepiece(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as e:
        raise CorruptCheckpointError(f"{path.name} is not a valid SentencePiece model ({e})") from e
    if not spm.pieces:
        raise CorruptCheckpointError(f"{path.name} contains no pieces")
    if spm.model_type != BPE_MODEL:
        kind = {1: "unigram", 3: "word", 4: "char"}.get(spm.model_type, str(spm.model_type))
        raise UnsupportedError(
            f"SentencePiece model type {kind} is not supported (only BPE, as in Llama/EuroLLM)"
        )
    n_bytes = sum(1 for p in spm.pieces if p[2] == int(T.BYTE))
    if not spm.byte_fallback or n_bytes != 256:
        # llama.cpp's SPM tokenizer falls back to <0xNN> pieces for any character it
        # cannot merge; without all 256 it fails on the first unseen character
        raise UnsupportedError(
            "SentencePiece models without byte fallback (all 256 <0xNN> pieces) are not supported"
        )
    vocab = Vocabulary(
        tokens=[p[0] for p in spm.pieces],
        scores=[p[1] for p in spm.pieces],
        types=[p[2] for p in spm.pieces],
        source="tokenizer.model",
    )
    return vocab, spm.trainer_ids, spm.add_dummy_prefix


def _merge_pairs(merges: list[Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for m in merges:
        if isinstance(m, str):
            a, sep, b = m.partition(" ")
            if not sep:
                raise CorruptCheckpointError(f"tokenizer.json has a malformed merge {m!r}")
            pairs.append((a, b))
        elif isinstance(m, list) and len(m) == 2:
            pairs.append((m[0], m[1]))
        else:
            raise CorruptCheckpointError(f"tokenizer.json has a malformed merge {m!r}")
    return pairs


def _from_tokenizer_json(tok: dict[str, Any]) -> Vocabulary:
    model = tok.get("model") or {}
    if model.get("type") != "BPE":
        raise UnsupportedError(
            f"tokenizer.json model type {model.get('type')!r} is not supported "
            "without tokenizer.model (only SentencePiece-style BPE)"
        )
    pre = json.dumps(tok.get("pre_tokenizer") or {})
    if not model.get("byte_fallback") or '"ByteLevel"' in pre:
        raise UnsupportedError(
            "byte-level BPE tokenizers (GPT-2/Llama-3 style) are not supported; "
            "only SentencePiece-style BPE with byte fallback"
        )
    vocab_map: dict[str, int] = model.get("vocab") or {}
    if not vocab_map:
        raise CorruptCheckpointError("tokenizer.json has an empty vocabulary")
    size = max(vocab_map.values()) + 1
    tokens: list[str | None] = [None] * size
    for text, i in vocab_map.items():
        tokens[i] = text

    # score = -(rank of the first merge producing the token): llama.cpp then merges in
    # exactly the Hugging Face merge order. Tokens no merge produces keep 0 (single
    # characters, bytes, specials: they are never the result of a merge).
    pairs = _merge_pairs(model.get("merges") or [])
    scores = [0.0] * size
    seen: set[int] = set()
    for rank, (a, b) in enumerate(pairs):
        i = vocab_map.get(a + b)
        if i is not None and i not in seen:
            seen.add(i)
            scores[i] = -float(rank)
    # a multi-character normal token that no merge produces must lose every contest
    floor = -float(len(pairs) + 1)
    types: list[int] = []
    unk = model.get("unk_token")
    for i, text in enumerate(tokens):
        if text is None:
            types.append(int(T.UNUSED))
        elif text == unk:
            types.append(int(T.UNKNOWN))
        elif _BYTE_TOKEN.fullmatch(text):
            types.append(int(T.BYTE))
        else:
            types.append(int(T.NORMAL))
            if i not in seen and len(text) > 1:
                scores[i] = floor
    return Vocabulary(
        tokens=[t if t is not None else f"[PAD{i}]" for i, t in enumerate(tokens)],
        scores=scores,
        types=types,
        source="tokenizer.json",
    )


def _added_tokens(model_dir: Path, tok_json: dict[str, Any] | None) -> dict[int, tuple[str, bool]]:
    """id -> (text, special) for added tokens, from tokenizer.json or tokenizer_config.json."""
    added: dict[int, tuple[str, bool]] = {}
    cfg_path = model_dir / "tokenizer_config.json"
    if cfg_path.is_file():
        decoder = _load_json(cfg_path).get("added_tokens_decoder") or {}
        for k, v in decoder.items():
            added[int(k)] = (v["content"], bool(v.get("special", False)))
    if tok_json is not None:
        for v in tok_json.get("added_tokens") or []:
            added[int(v["id"])] = (v["content"], bool(v.get("special", False)))
    return added


def _listed_specials(model_dir: Path) -> set[str]:
    """Texts that tokenizer_config/special_tokens_map declare special without an id."""
    texts: set[str] = set()
    for fname in ("special_tokens_map.json", "tokenizer_config.json"):
        path = model_dir / fname
        if not path.is_file():
            continue
        data = _load_json(path)
        for key in ("additional_special_tokens", "extra_special_tokens"):
            entries = data.get(key) or []
            if isinstance(entries, dict):
                entries = list(entries.values())
            for e in entries:
                text = _token_text(e)
                if text is not None:
                    texts.add(text)
    return texts


def _token_text(entry: Any) -> str | None:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and isinstance(entry.get("content"), str):
        return entry["content"]
    return None


def _model_type(model_dir: Path) -> str:
    path = model_dir / "config.json"
    return str(_load_json(path).get("model_type") or "") if path.is_file() else ""


def _generation_eos(model_dir: Path) -> list[int]:
    path = model_dir / "generation_config.json"
    if not path.is_file():
        return []
    value = _load_json(path).get("eos_token_id")
    if value is None:
        return []
    return [int(v) for v in (value if isinstance(value, list) else [value])]


def load_vocabulary(model_dir: Path, vocab_size: int) -> Vocabulary:
    """Build the llama.cpp vocabulary for ``model_dir``, padded to the model's ``vocab_size``."""
    try:
        return _load_vocabulary(model_dir, vocab_size)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        # a well-formed JSON file with the wrong structure (missing "content", ids that
        # are not numbers...): name the problem instead of showing a traceback
        raise CorruptCheckpointError(
            f"tokenizer files are malformed ({type(e).__name__}: {e})"
        ) from e


def _load_vocabulary(model_dir: Path, vocab_size: int) -> Vocabulary:
    spm_path = model_dir / "tokenizer.model"
    json_path = model_dir / "tokenizer.json"
    tok_json = _load_json(json_path) if json_path.is_file() else None
    trainer_ids: dict[str, int] = {}
    spm_dummy_prefix = True
    if spm_path.is_file():
        vocab, trainer_ids, spm_dummy_prefix = _from_sentencepiece(spm_path)
    elif tok_json is not None:
        vocab = _from_tokenizer_json(tok_json)
    else:
        raise MissingFileError(f"no tokenizer.model or tokenizer.json in {model_dir}")
    cfg_path = model_dir / "tokenizer_config.json"
    tok_cfg = _load_json(cfg_path) if cfg_path.is_file() else {}
    vocab.space_prefix = prefix_rule.decide(
        tok_cfg, tok_json, _model_type(model_dir), spm_dummy_prefix
    )
    vocab.add_space_prefix = prefix_rule.native_add_space_prefix(vocab.space_prefix)

    for i, (text, special) in sorted(_added_tokens(model_dir, tok_json).items()):
        while len(vocab.tokens) <= i:
            n = len(vocab.tokens)
            vocab.tokens.append(f"[PAD{n}]")
            vocab.scores.append(0.0)
            vocab.types.append(int(T.UNUSED))
        if vocab.tokens[i] != text and vocab.types[i] != int(T.UNUSED):
            raise CorruptCheckpointError(
                f"added token {text!r} claims id {i}, "
                f"which is {vocab.tokens[i]!r} in the vocabulary"
            )
        vocab.tokens[i] = text
        if vocab.types[i] not in (int(T.BYTE), int(T.UNKNOWN)):
            vocab.types[i] = int(T.CONTROL if special else T.USER_DEFINED)
        vocab.scores[i] = 0.0

    if len(vocab.tokens) > vocab_size:
        raise CorruptCheckpointError(
            f"tokenizer has {len(vocab.tokens)} tokens but config.json vocab_size is {vocab_size}"
        )
    # embedding rows beyond the tokenizer (vocabularies padded for speed) need names
    for n in range(len(vocab.tokens), vocab_size):
        vocab.tokens.append(f"[PAD{n}]")
        vocab.scores.append(0.0)
        vocab.types.append(int(T.UNUSED))
    index = vocab.index()
    if len(index) != len(vocab.tokens):
        raise CorruptCheckpointError("tokenizer contains duplicate token texts")

    for text in _listed_specials(model_dir):
        i = index.get(text)
        if i is not None and vocab.types[i] in (int(T.NORMAL), int(T.USER_DEFINED)):
            vocab.types[i] = int(T.CONTROL)

    _resolve_specials(model_dir, vocab, index, trainer_ids)
    return vocab


def _resolve_specials(
    model_dir: Path, vocab: Vocabulary, index: dict[str, int], trainer_ids: dict[str, int]
) -> None:
    """Special-token ids, add-BOS/EOS flags, chat template and end-of-generation ids."""
    # gguf's SpecialVocab knows the HF conventions for add_*_token flags (including the
    # tokenizer.json post-processor) and for where chat templates live; it is chatty on
    # the root logger, so keep it quiet unless something is really wrong.
    gguf_log = logging.getLogger("gguf")
    level = gguf_log.level
    gguf_log.setLevel(logging.ERROR)
    try:
        sv = gguf.SpecialVocab(model_dir, load_merges=False, n_vocab=len(vocab.tokens))
    finally:
        gguf_log.setLevel(level)
    vocab.chat_template = sv.chat_template
    vocab.add_bos = sv.add_special_token.get("bos")
    vocab.add_eos = sv.add_special_token.get("eos")

    texts: dict[str, str] = {}
    for fname in ("special_tokens_map.json", "tokenizer_config.json"):  # later wins
        path = model_dir / fname
        if path.is_file():
            data = _load_json(path)
            for typ in ("bos", "eos", "unk", "pad"):
                text = _token_text(data.get(f"{typ}_token"))
                if text is not None:
                    texts[typ] = text
    for typ in ("bos", "eos", "unk", "pad"):
        tid = index.get(texts[typ]) if typ in texts else None
        if tid is None:
            tid = trainer_ids.get(typ)
        if tid is None:
            tid = sv.special_token_ids.get(typ)
        if tid is not None:
            vocab.special_ids[typ] = tid
    if "unk" not in vocab.special_ids and int(T.UNKNOWN) in vocab.types:
        vocab.special_ids["unk"] = vocab.types.index(int(T.UNKNOWN))
    if "unk" in vocab.special_ids:
        # tokenizer.json may list <unk> only as an added special token
        vocab.types[vocab.special_ids["unk"]] = int(T.UNKNOWN)
    if vocab.add_bos is None:
        # Llama tokenizers prepend BOS unless told otherwise
        vocab.add_bos = "bos" in vocab.special_ids

    # llama.cpp (this version) has no key for a list of end-of-generation ids: it treats
    # EOS, EOT and EOM as end of generation (plus a few well-known token texts), so the
    # ids from generation_config.json beyond EOS go to EOT and EOM.
    eos = vocab.special_ids.get("eos")
    extra = [i for i in dict.fromkeys(_generation_eos(model_dir)) if i != eos]
    for i in extra:
        if not 0 <= i < len(vocab.tokens):
            raise CorruptCheckpointError(
                f"generation_config.json eos_token_id {i} is outside the vocabulary"
            )
    if eos is None and extra:
        vocab.special_ids["eos"] = eos = extra.pop(0)
    if extra:
        vocab.eot_id = extra.pop(0)
    if extra:
        vocab.eom_id = extra.pop(0)
    if extra:
        vocab.warnings.append(
            "llama.cpp can record at most three end-of-generation ids; ignoring "
            + ", ".join(str(i) for i in extra)
        )
    for i in (eos, vocab.eot_id, vocab.eom_id):
        if i is not None and vocab.types[i] == int(T.NORMAL):
            vocab.types[i] = int(T.CONTROL)


def add_vocabulary(writer: gguf.GGUFWriter, vocab: Vocabulary) -> None:
    """Write the ``tokenizer.*`` keys."""
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(vocab.tokens)
    writer.add_token_scores(vocab.scores)
    writer.add_token_types(vocab.types)
    writer.add_add_space_prefix(vocab.add_space_prefix)
    writer.add_string(RULE_KEY, vocab.space_prefix.value)
    setters = {
        "bos": writer.add_bos_token_id,
        "eos": writer.add_eos_token_id,
        "unk": writer.add_unk_token_id,
        "pad": writer.add_pad_token_id,
    }
    for typ, tid in vocab.special_ids.items():
        setters[typ](tid)
    if vocab.eot_id is not None:
        writer.add_eot_token_id(vocab.eot_id)
    if vocab.eom_id is not None:
        writer.add_eom_token_id(vocab.eom_id)
    if vocab.add_bos is not None:
        writer.add_add_bos_token(vocab.add_bos)
    if vocab.add_eos is not None:
        writer.add_add_eos_token(vocab.add_eos)
    if vocab.chat_template:
        writer.add_chat_template(vocab.chat_template)
