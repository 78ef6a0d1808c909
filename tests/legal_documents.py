"""Long Portuguese regulations made by the tests: articles with facts only one holds.

A municipal regulation is chapters of numbered articles ("Artigo 12.º"), each with a
title and a few numbered paragraphs. Most of the text is filler that every article
shares in varied forms (what makes searching hard); each article also states one fact
of its own (a deadline, a fee, an office) that a question can be asked about.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

FILLER = [
    "Os serviços municipais competentes asseguram a aplicação do disposto no presente "
    "regulamento, em articulação com as demais entidades públicas.",
    "O disposto no número anterior não prejudica a aplicação das normas legais e "
    "regulamentares em vigor, designadamente do Código do Procedimento Administrativo.",
    "Os interessados podem consultar os processos que lhes digam respeito nos termos gerais "
    "de direito, mediante requerimento dirigido ao presidente da câmara municipal.",
    "As comunicações previstas no presente artigo são efetuadas preferencialmente por via "
    "eletrónica, através da plataforma disponibilizada pelo município.",
    "A câmara municipal pode, por deliberação fundamentada, dispensar a apresentação de "
    "documentos que já se encontrem na posse dos serviços.",
]

# (title, fact) per special article: the only place the fact is written.
FACTS = [
    ("Licença de ocupação da via pública",
     "A licença de ocupação da via pública com esplanadas é válida por um ano civil e a "
     "taxa anual é de 42 euros por metro quadrado."),
    ("Prazo de reclamação",
     "O prazo para apresentar reclamação da decisão de indeferimento é de quinze dias "
     "úteis a contar da notificação."),
    ("Candidaturas a habitação municipal",
     "As candidaturas à atribuição de habitação municipal são apresentadas no Gabinete de "
     "Ação Social entre 1 de março e 30 de abril."),
    ("Horário de funcionamento dos mercados",
     "Os mercados municipais funcionam de terça-feira a sábado, das 7 às 14 horas, "
     "encerrando aos domingos e segundas-feiras."),
    ("Obras isentas de controlo prévio",
     "Estão isentas de controlo prévio as obras de conservação e as alterações no interior "
     "de edifícios que não impliquem modificações na estrutura de estabilidade."),
    ("Cemitérios",
     "A concessão de sepulturas perpétuas no cemitério municipal de Alvalade depende do "
     "pagamento de uma taxa de 1250 euros."),
]  # fmt: skip


def regulation(articles: int, seed: int = 7) -> list[str]:
    """The lines of a regulation of ``articles`` articles; facts in every 25th one."""
    rng = random.Random(seed)
    lines = ["REGULAMENTO MUNICIPAL DE TESTE", ""]
    fact = 0
    for number in range(1, articles + 1):
        if number % 20 == 1:
            lines += [f"CAPÍTULO {number // 20 + 1}", "Disposições aplicáveis", ""]
        if number % 25 == 0 and fact < len(FACTS):
            title, text = FACTS[fact]
            fact += 1
            body = [text, *rng.sample(FILLER, 2)]
        else:
            title = f"Procedimento {number}"
            body = rng.sample(FILLER, 3)
        lines.append(f"Artigo {number}.º")
        lines.append(title)
        lines += [f"{i}. {sentence}" for i, sentence in enumerate(body, start=1)]
        lines.append("")
    return lines


def pages_of(lines: Sequence[str], per_page: int = 40) -> list[list[str]]:
    """Lines laid out as pages of ``per_page`` lines, long lines wrapped at 90 chars."""
    wrapped: list[str] = []
    for line in lines:
        while len(line) > 90:
            cut = line.rfind(" ", 0, 90)
            wrapped.append(line[:cut])
            line = line[cut + 1 :]
        wrapped.append(line)
    return [list(wrapped[i : i + per_page]) for i in range(0, len(wrapped), per_page)]


def article_page(pages: Sequence[Sequence[str]], number: int) -> int:
    """The page (from 1) where ``Artigo number.º`` begins."""
    heading = f"Artigo {number}.º"
    for index, page in enumerate(pages, start=1):
        if heading in page:
            return index
    raise LookupError(heading)
