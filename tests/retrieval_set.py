"""A retrieval test set: three long pt-PT municipal regulations and questions about them.

Each regulation has 165 articles. 22 of them hold a fact no other article states (a
fee, a deadline, a height, a place); the other 143 are procedure articles built from
the same regulation's vocabulary (the fees, licences and inspections *of* esplanadas,
andaimes, contentores...) so that a question's words are found in many articles and
only one answers it. Each fact comes with one question phrased as a person would ask
it: other words where people use other words (multa for coima, lixo for resíduos),
inflected differently, often without accents, never copied from the article.

``build`` gives each regulation's lines (to write as a PDF or DOCX) and the question ->
article number that answers it; ``article_page`` in legal_documents finds its page.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from document_files import write_pdf

ARTICLES = 165
FIRST_FACT = 4  # the facts are articles 4, 11, 18, ... (every FACT_STEP-th)
FACT_STEP = 7


@dataclass(frozen=True)
class Fact:
    title: str
    text: str
    question: str


@dataclass(frozen=True)
class Regulation:
    file: str
    title: str
    facts: tuple[Fact, ...]
    subjects: tuple[str, ...]  # what the procedure articles are about


@dataclass(frozen=True)
class Question:
    text: str
    file: str
    article: int


URBANISMO = Regulation(
    "urbanizacao.pdf",
    "REGULAMENTO MUNICIPAL DE URBANIZAÇÃO E EDIFICAÇÃO DE VALE SERRANO",
    (
        Fact("Prazo de decisão do licenciamento",
             "A câmara municipal decide o pedido de licenciamento de obras de construção no "
             "prazo de quarenta e cinco dias a contar da receção do último parecer.",
             "quanto tempo demora a camara a decidir um licenciamento de construcao?"),
        Fact("Altura das vedações",
             "As vedações confinantes com a via pública não podem exceder 1,80 metros de "
             "altura, dos quais apenas 0,90 metros em alvenaria.",
             "qual a altura maxima de uma vedacao virada para a rua?"),
        Fact("Aparelhos de ar condicionado",
             "É proibida a instalação de aparelhos de ar condicionado nas fachadas principais "
             "voltadas para a via pública, devendo ser colocados nas coberturas.",
             "posso pôr o ar condicionado na fachada da frente do prédio?"),
        Fact("Cor das fachadas",
             "No centro histórico as fachadas são pintadas de branco, admitindo-se barras de "
             "cor ocre ou azul-cobalto nos socos e molduras.",
             "de que cor tenho de pintar a casa no centro historico?"),
        Fact("Caução das obras de urbanização",
             "A caução destinada a garantir a boa execução das obras de urbanização "
             "corresponde a 5 % do valor orçamentado dos trabalhos.",
             "qual é o valor da garantia a prestar nas obras de urbanizaçao?"),
        Fact("Andaimes e tapumes",
             "A ocupação da via pública com andaimes e tapumes não pode exceder metade da "
             "largura do passeio, garantindo sempre um corredor pedonal de 1,20 metros.",
             "os andaimes podem ocupar o passeio todo?"),
        Fact("Horário das obras ruidosas",
             "As obras ruidosas só podem realizar-se nos dias úteis, entre as 8 e as 20 horas, "
             "sendo proibidas aos sábados, domingos e feriados.",
             "a que horas posso fazer obras com barulho? e ao fim de semana?"),
        Fact("Estacionamento em edifícios novos",
             "Os novos edifícios de habitação coletiva dispõem de um lugar de estacionamento "
             "por fogo de tipologia até T2 e de dois lugares por fogo T3 ou superior.",
             "quantos lugares de garagem tem de ter um predio novo com apartamentos T3?"),
        Fact("Piscinas",
             "A construção de piscinas descobertas de uso privado com área inferior a 30 metros "
             "quadrados está dispensada de licença, ficando sujeita a comunicação prévia.",
             "preciso de licenca para fazer uma piscina pequena no jardim?"),
        Fact("Painéis solares",
             "A instalação de painéis solares fotovoltaicos em coberturas inclinadas é isenta "
             "de controlo prévio desde que os painéis acompanhem a pendente do telhado.",
             "tenho de pedir autorização para pôr paineis solares no telhado?"),
        Fact("Autorização de utilização",
             "O pedido de autorização de utilização é instruído com o termo de "
             "responsabilidade do diretor de obra e com o certificado energético do edifício.",
             "o que tenho de entregar para pedir a autorizacao de utilizacao da casa?"),
        Fact("Anexos",
             "Os anexos de apoio à habitação têm uma área máxima de 40 metros quadrados e uma "
             "altura que não exceda 3 metros.",
             "que tamanho pode ter um anexo nas traseiras da moradia?"),
        Fact("Edifícios do património",
             "A demolição de edifícios inventariados na carta do património depende de parecer "
             "prévio da comissão municipal de património.",
             "quem tem de dar parecer para demolir uma casa antiga do patrimonio?"),
        Fact("Taxa de apreciação",
             "Pela apreciação de cada pedido de licenciamento é devida uma taxa de 85 euros, "
             "acrescida de 1,50 euros por metro quadrado de área de construção.",
             "quanto se paga para a camara apreciar um pedido de licença?"),
        Fact("Prorrogação do prazo de execução",
             "O prazo de execução das obras pode ser prorrogado uma única vez, por período não "
             "superior a metade do prazo inicial.",
             "posso pedir mais tempo para acabar a obra? quantas vezes se pode prorrogar?"),
        Fact("Toldos",
             "Os toldos instalados em fachadas deixam uma altura livre mínima de 2,20 metros "
             "acima do passeio e não avançam mais de 1,50 metros.",
             "a que altura tem de ficar o toldo da minha loja?"),
        Fact("Vistoria das obras de urbanização",
             "A receção provisória das obras de urbanização é feita por uma comissão de "
             "vistoria com três técnicos municipais, no prazo de trinta dias após o pedido.",
             "quem faz a vistoria para receber as obras do loteamento?"),
        Fact("Cedências para espaços verdes",
             "Nas operações de loteamento são cedidos ao município 28 metros quadrados de "
             "espaços verdes por cada fogo.",
             "quantos metros de jardim publico tenho de ceder por cada casa num loteamento?"),
        Fact("Queixas sobre obras",
             "As reclamações de vizinhos sobre obras em curso são apresentadas no balcão do "
             "urbanismo, que as encaminha para a fiscalização no prazo de cinco dias.",
             "o meu vizinho anda em obras, onde apresento reclamação?"),
        Fact("Chaminés",
             "As chaminés de exaustão de fumos de estabelecimentos de restauração elevam-se "
             "pelo menos 1 metro acima da cumeeira do edifício.",
             "a chamine do restaurante tem de subir quanto acima do telhado?"),
        Fact("Caixilharias",
             "No centro histórico as caixilharias são em madeira pintada ou alumínio lacado em "
             "cor castanha, sendo proibido o alumínio anodizado.",
             "posso meter janelas de aluminio numa casa do centro historico?"),
        Fact("Legalização de obras",
             "As obras realizadas sem licença podem ser legalizadas mediante pedido "
             "apresentado no prazo de seis meses após a notificação da câmara.",
             "fiz um anexo sem licença, quanto tempo tenho para legalizar depois de notificado?"),
    ),
    ("vedações", "fachadas", "andaimes", "piscinas", "anexos", "toldos", "obras de urbanização",
     "operações de loteamento", "edifícios de habitação coletiva", "coberturas e telhados",
     "obras de construção", "obras de demolição", "licenças de construção", "centro histórico",
     "estabelecimentos de restauração", "painéis publicitários"),
)  # fmt: skip

RESIDUOS = Regulation(
    "residuos.pdf",
    "REGULAMENTO DE RESÍDUOS URBANOS E LIMPEZA PÚBLICA DO MUNICÍPIO DE VALE SERRANO",
    (
        Fact("Objetos volumosos",
             "A recolha de objetos volumosos fora de uso, como móveis e colchões, é gratuita e "
             "feita mediante marcação pelo telefone 800 200 145, às quartas-feiras.",
             "como faço para a camara recolher um colchao velho?"),
        Fact("Horário de deposição",
             "Os resíduos indiferenciados são colocados nos contentores entre as 20 e as 23 "
             "horas, sendo proibida a deposição fora deste horário.",
             "a que horas posso deitar o lixo no contentor?"),
        Fact("Dejetos de animais",
             "Os detentores de animais de companhia recolhem os dejetos produzidos na via "
             "pública, sob pena de coima de 50 a 500 euros.",
             "qual e a multa por nao apanhar os dejetos do cao na rua?"),
        Fact("Óleos alimentares usados",
             "Os óleos alimentares usados são entregues em garrafas de plástico fechadas nos "
             "oleões instalados junto às juntas de freguesia.",
             "onde posso deitar fora o oleo de fritar usado?"),
        Fact("Resíduos de pequenas obras",
             "Os resíduos de obras de pequena dimensão, até 1 metro cúbico, podem ser entregues "
             "gratuitamente no ecocentro da Quinta do Lago Seco.",
             "onde levo o entulho das obras la de casa?"),
        Fact("Horário do ecocentro",
             "O ecocentro municipal funciona de segunda a sábado, das 9 às 18 horas, e encerra "
             "aos domingos e feriados.",
             "o ecocentro abre ao domingo?"),
        Fact("Limpeza de terrenos",
             "Os proprietários de terrenos confinantes com habitações procedem à limpeza da "
             "vegetação numa faixa de 50 metros até 30 de abril de cada ano.",
             "ate quando tenho de limpar o mato do meu terreno?"),
        Fact("Tarifa de resíduos",
             "A tarifa de resíduos urbanos é cobrada na fatura da água e corresponde a 0,65 "
             "euros por metro cúbico de água consumida.",
             "como é calculada a taxa do lixo que vem na conta da agua?"),
        Fact("Contentores de obra",
             "A colocação de contentores de obra na via pública depende de licença e os "
             "contentores são retirados, em qualquer caso, às sextas-feiras.",
             "o contentor das obras pode ficar na rua durante o fim de semana?"),
        Fact("Resíduos verdes",
             "Os resíduos verdes de jardins particulares são recolhidos porta a porta na "
             "primeira segunda-feira de cada mês, em sacos até 20 quilogramas.",
             "quando passam a recolher a relva cortada e os ramos do jardim?"),
        Fact("Queimas",
             "É proibida a queima de resíduos a céu aberto, incluindo sobrantes agrícolas, "
             "entre 1 de julho e 30 de setembro.",
             "posso queimar ramos no quintal em agosto?"),
        Fact("Lavagem de viaturas",
             "É proibida a lavagem de viaturas na via pública com produtos detergentes, salvo "
             "em locais devidamente autorizados.",
             "posso lavar o carro à porta de casa com detergente?"),
        Fact("Pilhas e baterias",
             "As pilhas e baterias usadas são depositadas nos pilhões existentes nos "
             "estabelecimentos comerciais e nos edifícios municipais.",
             "onde ponho as pilhas gastas?"),
        Fact("Grandes produtores",
             "Os estabelecimentos que produzam mais de 1100 litros de resíduos por dia são "
             "considerados grandes produtores e asseguram a sua própria recolha.",
             "um restaurante que produz muito lixo tem de contratar a recolha?"),
        Fact("Cartazes",
             "A afixação de cartazes em mobiliário urbano e fachadas é proibida, sendo os "
             "infratores responsáveis pelos custos da sua remoção.",
             "posso colar um cartaz num poste? quem paga se for removido?"),
        Fact("Beatas",
             "Os estabelecimentos com esplanada dispõem de cinzeiros e recolhem as beatas de "
             "cigarro numa área de 5 metros em redor.",
             "os cafes com esplanada tem de apanhar as beatas?"),
        Fact("Equipamentos elétricos usados",
             "Os equipamentos elétricos e eletrónicos usados podem ser entregues no ato de "
             "compra de um equipamento novo equivalente, sem qualquer custo.",
             "quando compro um frigorifico novo a loja tem de ficar com o velho?"),
        Fact("Animais mortos na via pública",
             "A remoção de cadáveres de animais na via pública é feita pelos serviços "
             "municipais no prazo de 24 horas após a comunicação.",
             "esta um gato morto na estrada, quanto tempo demora a ser removido?"),
        Fact("Papeleiras",
             "É proibido depositar resíduos domésticos nas papeleiras, que se destinam apenas "
             "a pequenos resíduos produzidos por quem circula na via pública.",
             "posso pôr o saco do lixo de casa numa papeleira da rua?"),
        Fact("Compostores domésticos",
             "O município cede gratuitamente compostores domésticos aos munícipes com quintal "
             "ou jardim, mediante inscrição no gabinete do ambiente.",
             "a camara da compostores? como me inscrevo?"),
        Fact("Vidrão",
             "As embalagens de vidro são depositadas no vidrão sem tampas nem rolhas, sendo "
             "proibida a deposição de loiça, cristal e espelhos.",
             "posso meter um espelho partido no vidrao?"),
        Fact("Resíduos fora dos contentores",
             "A deposição de resíduos fora dos contentores constitui contraordenação punível "
             "com coima de 150 a 1500 euros para pessoas singulares.",
             "quanto é a coima por deixar sacos de lixo fora do contentor?"),
    ),
    ("contentores", "resíduos urbanos", "resíduos indiferenciados", "ecocentros", "esplanadas",
     "estabelecimentos comerciais", "terrenos", "jardins", "embalagens", "via pública",
     "recolha seletiva", "viaturas de recolha", "animais de companhia", "oleões",
     "mobiliário urbano", "resíduos de construção"),
)  # fmt: skip

TRANSITO = Regulation(
    "estacionamento.pdf",
    "REGULAMENTO DE TRÂNSITO E ESTACIONAMENTO DO MUNICÍPIO DE VALE SERRANO",
    (
        Fact("Dístico de residente",
             "O dístico de residente é válido por dois anos e custa 12 euros, sendo atribuído "
             "no máximo um dístico por cada fogo.",
             "quanto custa o distico de residente e quanto tempo dura?"),
        Fact("Duração limitada",
             "Nas zonas de estacionamento de duração limitada o tempo máximo de permanência é "
             "de duas horas seguidas.",
             "quanto tempo posso deixar o carro estacionado na zona de duracao limitada?"),
        Fact("Zona vermelha",
             "Na zona vermelha cada hora de estacionamento custa 1,20 euros, sendo a fração "
             "mínima de 15 minutos.",
             "quanto pago por hora na zona vermelha?"),
        Fact("Cargas e descargas",
             "As operações de cargas e descargas em lugares reservados são permitidas das 7 às "
             "11 horas, com a duração máxima de 30 minutos por veículo.",
             "a que horas se pode descarregar mercadoria nos lugares de cargas?"),
        Fact("Bloqueamento e reboque",
             "O desbloqueamento de um veículo custa 50 euros e a remoção por reboque 120 euros, "
             "acrescidos de 10 euros por cada dia de depósito.",
             "rebocaram-me o carro, quanto vou ter de pagar?"),
        Fact("Lugares para pessoas com deficiência",
             "Os lugares reservados a pessoas com deficiência só podem ser usados por veículos "
             "com o cartão de estacionamento europeu exibido.",
             "o que preciso para estacionar num lugar para deficientes?"),
        Fact("Veículos elétricos",
             "Estão isentos de pagamento os motociclos e os veículos elétricos durante o "
             "período de carregamento, até ao limite de quatro horas.",
             "carros eletricos pagam estacionamento enquanto carregam?"),
        Fact("Zonas residenciais",
             "Nas zonas residenciais e de coexistência a velocidade máxima é de 20 quilómetros "
             "por hora.",
             "qual o limite de velocidade numa rua residencial?"),
        Fact("Trotinetes partilhadas",
             "As trotinetes partilhadas são estacionadas apenas nas áreas marcadas para o "
             "efeito, sendo os operadores notificados para as retirar em duas horas.",
             "onde se podem deixar as trotinetes de aluguer?"),
        Fact("Assinaturas dos parques",
             "A assinatura mensal para estacionamento em parques municipais custa 35 euros "
             "para residentes e 60 euros para não residentes.",
             "quanto custa a assinatura do parque de estacionamento para quem nao mora ca?"),
        Fact("Cartão de comerciante",
             "Os comerciantes com estabelecimento na zona tarifada podem obter um cartão que "
             "permite estacionar um veículo de serviço por 20 euros mensais.",
             "tenho uma loja na zona paga, ha algum cartao para estacionar a carrinha?"),
        Fact("Avisos de pagamento",
             "O aviso de pagamento deixado no veículo pode ser regularizado no prazo de 48 "
             "horas mediante o pagamento de uma tarifa de 5 euros.",
             "deixaram-me um aviso no para-brisas, quanto tempo tenho para pagar?"),
        Fact("Veículos pesados",
             "A circulação de veículos com peso bruto superior a 7,5 toneladas no centro da "
             "cidade só é permitida entre as 21 e as 7 horas.",
             "os camioes pesados podem circular no centro durante o dia?"),
        Fact("Ciclovias",
             "É proibido estacionar ou parar em ciclovias, constituindo contraordenação punível "
             "com coima de 60 a 300 euros.",
             "qual e a multa por parar o carro na ciclovia?"),
        Fact("Dias de feira",
             "Nos dias de feira o estacionamento no Largo do Rossio é proibido entre as 6 e as "
             "15 horas, para montagem das bancas.",
             "posso deixar o carro no rossio quando ha feira?"),
        Fact("Táxis",
             "As praças de táxis do concelho têm um contingente de 42 licenças, distribuídas "
             "pelas freguesias em função da população.",
             "quantas licencas de taxi ha no concelho?"),
        Fact("Parques subterrâneos",
             "Os parques subterrâneos municipais funcionam 24 horas por dia e a primeira meia "
             "hora de estacionamento é gratuita.",
             "nos parques subterraneos os primeiros 30 minutos sao de borla?"),
        Fact("Veículos abandonados",
             "Presume-se abandonado o veículo estacionado no mesmo local da via pública por "
             "período superior a 30 dias consecutivos.",
             "ao fim de quantos dias um carro parado na rua é considerado abandonado?"),
        Fact("Autocarros de turismo",
             "Os autocarros de turismo tomam e largam passageiros apenas nos lugares da "
             "Avenida da República, junto ao posto de turismo.",
             "onde param os autocarros com turistas?"),
        Fact("Condicionamento por obras",
             "O condicionamento de trânsito por obras é comunicado à polícia municipal com uma "
             "antecedência mínima de cinco dias úteis.",
             "com quanta antecedencia tenho de avisar que vou cortar a rua para obras?"),
        Fact("Defesa contra autos",
             "A defesa contra um auto de contraordenação de estacionamento é apresentada por "
             "escrito no prazo de quinze dias úteis após a notificação.",
             "como me defendo de uma multa de estacionamento e em que prazo?"),
        Fact("Motociclos",
             "Os motociclos estacionam nos lugares próprios assinalados, sendo proibido "
             "estacionar motociclos nos passeios.",
             "posso deixar a mota em cima do passeio?"),
    ),
    ("estacionamento tarifado", "veículos", "parques de estacionamento", "lugares reservados",
     "zonas de estacionamento", "motociclos", "velocidade", "trânsito", "via pública",
     "cargas e descargas", "táxis", "transportes públicos", "residentes", "passeios",
     "autocarros", "contraordenações"),
)  # fmt: skip

REGULATIONS = (URBANISMO, RESIDUOS, TRANSITO)

# Procedure articles: a title and sentences about one subject, none of them a fact.
_PROCEDURES = (
    ("Instrução dos pedidos relativos a {s}",
     "Os pedidos relativos a {s} são instruídos com os elementos definidos por despacho do "
     "presidente da câmara e apresentados preferencialmente por via eletrónica."),
    ("Fiscalização de {s}",
     "Compete aos serviços de fiscalização municipal verificar o cumprimento das normas "
     "aplicáveis a {s}, podendo solicitar a colaboração das autoridades policiais."),
    ("Taxas relativas a {s}",
     "As taxas devidas em matéria de {s} constam da tabela anexa ao Regulamento Geral de "
     "Taxas do município e são atualizadas anualmente."),
    ("Regime sancionatório aplicável a {s}",
     "A violação das normas relativas a {s} constitui contraordenação, nos termos previstos "
     "no capítulo das disposições finais do presente regulamento."),
    ("Prazos dos procedimentos relativos a {s}",
     "Os prazos dos procedimentos relativos a {s} contam-se nos termos do Código do "
     "Procedimento Administrativo e suspendem-se durante as férias judiciais."),
    ("Normas técnicas sobre {s}",
     "As normas técnicas aplicáveis a {s} são aprovadas pela câmara municipal e publicadas "
     "no sítio do município na internet."),
    ("Dever de informação sobre {s}",
     "Os serviços municipais prestam aos interessados a informação de que disponham sobre "
     "{s}, no balcão único de atendimento ou por correio eletrónico."),
    ("Licenças e autorizações relativas a {s}",
     "As licenças e autorizações respeitantes a {s} são pessoais e intransmissíveis, salvo "
     "quando a câmara municipal autorize expressamente a sua transmissão."),
)  # fmt: skip

_FILLER = (
    "O disposto no número anterior não prejudica a aplicação das normas legais e "
    "regulamentares em vigor.",
    "As comunicações previstas no presente artigo são efetuadas através da plataforma "
    "eletrónica disponibilizada pelo município.",
    "A câmara municipal pode, por deliberação fundamentada, dispensar a apresentação de "
    "documentos que já se encontrem na posse dos serviços.",
    "Os interessados podem consultar os processos que lhes digam respeito mediante "
    "requerimento dirigido ao presidente da câmara municipal.",
)


def build(regulation: Regulation, seed: int = 11) -> tuple[list[str], list[Question]]:
    """The regulation's lines and its questions, each with the article that answers it."""
    rng = random.Random(seed)
    facts = {FIRST_FACT + i * FACT_STEP: fact for i, fact in enumerate(regulation.facts)}
    assert max(facts) <= ARTICLES
    lines = [regulation.title, ""]
    questions: list[Question] = []
    for number in range(1, ARTICLES + 1):
        if number % 15 == 1:
            lines += [f"CAPÍTULO {number // 15 + 1}", "Disposições aplicáveis", ""]
        fact = facts.get(number)
        if fact is not None:
            title, body = fact.title, [fact.text, *rng.sample(_FILLER, 2)]
            questions.append(Question(fact.question, regulation.file, number))
        else:
            subject = rng.choice(regulation.subjects)
            title, first = rng.choice(_PROCEDURES)
            title, body = title.format(s=subject), [first.format(s=subject)]
            body += rng.sample(_FILLER, 2)
        lines += [f"Artigo {number}.º", title]
        lines += [f"{i}. {sentence}" for i, sentence in enumerate(body, start=1)]
        lines.append("")
    return lines, questions


@dataclass(frozen=True)
class Outcome:
    question: Question
    rank: int | None  # of the right passage among those found, from 1; None: not found
    given: bool  # the right passage is among those the default budget gives the model


def measure(folder: Path, cache: Path, budget: int | None = None) -> list[Outcome]:
    """Write the three regulations as PDFs in ``folder``, index them in ``cache`` and
    ask every question of its own regulation: where the right passage ranks, and whether
    it is among the passages given within ``budget`` (default: what ``run`` gives),
    their tokens estimated as ``run`` would count them framed."""
    from legal_documents import article_page, pages_of

    from amalia_local.documents import read_document
    from amalia_local.documents.framing import frame
    from amalia_local.passages.budget import within_budget
    from amalia_local.passages.index import PassageIndex
    from amalia_local.passages.split import estimate_tokens
    from amalia_local.services.passages import BUDGET, CANDIDATES, source_label

    outcomes: list[Outcome] = []
    for regulation in REGULATIONS:
        lines, questions = build(regulation)
        pages = pages_of(lines)
        document = read_document(write_pdf(folder / regulation.file, pages))
        with PassageIndex.open(document, cache) as index:
            for question in questions:
                hits = index.search(question.text, CANDIDATES)
                page = article_page(pages, question.article)
                section = f"Artigo {question.article}.º"

                def right(passage, page=page, section=section) -> bool:
                    first, last = passage.first_page, passage.last_page or passage.first_page
                    return passage.section == section and first <= page <= last

                rank = next((i for i, h in enumerate(hits, 1) if right(h.passage)), None)
                given = within_budget(
                    hits,
                    BUDGET if budget is None else budget,
                    lambda h: estimate_tokens(
                        frame(_Named(source_label(h.passage), h.passage.text))
                    ),
                )
                outcomes.append(Outcome(question, rank, any(right(h.passage) for h, _ in given)))
    return outcomes


@dataclass(frozen=True)
class _Named:
    name: str
    text: str
    kind: str = "excerpt"
