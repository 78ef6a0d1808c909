"""pt-PT text written for the converter tests: training corpus and test sentences."""

# Original pt-PT text for training the test tokenizer (not taken from any corpus).
CORPUS = """\
A Amália cantava o fado em Lisboa, nas noites quentes de Alfama.
O elétrico 28 sobe a colina devagar, cheio de turistas e de vizinhos.
Na padaria da esquina, o pão quente custa 0,35 € e os pastéis de nata 1,20 €.
Ontem à tarde choveu imenso no Porto; hoje o céu está limpo sobre o Douro.
A câmara municipal aprovou o orçamento para 2025 com 17 votos a favor.
Os alunos da escola secundária leram «Os Lusíadas» durante o terceiro período.
Se quiseres, podemos almoçar amanhã ao meio-dia junto ao rio.
Ele disse-me que não sabia onde tinha deixado as chaves do carro.
A ponte 25 de Abril liga Lisboa a Almada desde 1966.
Às vezes, a maré sobe tanto que a estrada junto à praia fica alagada.
O comboio para Coimbra parte às 9h15 da estação de Santa Apolónia.
Obrigado pela ajuda! Foi muito simpático da vossa parte.
Quantos quilómetros faltam até Évora? Mais ou menos cento e trinta.
A avó guardava receitas antigas num caderno de capa azul.
No verão, as sardinhas assadas enchem as ruas de fumo e de alegria.
O médico recomendou descanso, água e uma alimentação equilibrada.
Esta manhã, o autocarro atrasou-se vinte minutos por causa do trânsito.
As universidades portuguesas recebem estudantes de todo o mundo.
Ninguém esperava que o pequeno clube ganhasse o campeonato.
Ela trabalha como engenheira informática numa empresa em Braga.
Põe o casaco, que lá fora está frio e vento!
O museu abre às terças-feiras e encerra aos domingos à noite.
Comprei três quilos de laranjas do Algarve por 4,50 euros.
Vamos ver o pôr do sol no miradouro da Senhora do Monte.
A biblioteca municipal tem mais de 40 000 livros e revistas.
Cada região tem a sua tradição: o vinho verde, o queijo da serra, o pão de ló.
A conversa prolongou-se até de madrugada, entre risos e memórias.
Os pescadores da Nazaré saem para o mar antes de o dia nascer.
Não te esqueças de regar as plantas enquanto eu estiver fora.
O governo anunciou novas medidas para a habitação e para os transportes.
"""

# Sentences the parity tests tokenize: accents, €, digits, punctuation, newlines,
# repeated spaces, emoji (not in the training text: byte fallback), unseen words.
SENTENCES = [
    "Olá! Como estás?",
    "A reunião é às 15h30, na sala 2.",
    "O bilhete custou 12,50 € — caro, não achas?",
    "Primeira linha.\nSegunda linha.\n\nTerceira, depois de uma linha vazia.",
    "Espaços   repetidos    aqui  e   ali.",
    "Começa sem espaço e acaba com espaço ",
    "Gosto muito de pastéis de nata 😀🇵🇹!",
    "Ação, coração, pão, mãe, avô, órgão: ç ã õ é ê í ó ú à.",
    "Números: 0 1 2 3 4 5 6 7 8 9 10 100 1000 2024-11-27.",
    "Aspas «assim», “assim” e 'assim'; parênteses (sim) [não] {talvez}.",
    "Tabulação\taqui, e um URL: https://exemplo.pt/página?x=1&y=2",
    "Zé Çé ÃÕ ÉÊ — maiúsculas acentuadas.",
]

# Text boundaries where Hugging Face tokenizers disagree among themselves (transformers 5's
# LlamaTokenizer drops SentencePiece's dummy prefix when text starts with a space, and
# after special tokens unless legacy=True); llama.cpp follows SentencePiece here.
BOUNDARY = [
    "  Começa com dois espaços.",
    " Um espaço à frente.",
    "<|im_start|>user\nOlá, tudo bem?<|im_end|>\n<|im_start|>assistant\nSim!<|im_end|>\n",
]

CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
