"""The hand-written source of ``variety_pairs.jsonl``: pt-PT / pt-BR minimal pairs.

Run once after editing (``python quant/data/variety_source.py``); the JSONL it writes is
what the ladder reads and what the tests check. Written for amalia-local, copied from
nowhere.

Notation: ``[pt|br]`` marks one variety marker; everything outside brackets is shared
text, identical in both varieties. ``[o|]`` means the pt-BR side has nothing there.

The pt-BR side is how a Brazilian living in Portugal would write the same sentence: the
names of Portuguese institutions stay (câmara municipal, junta de freguesia, Loja do
Cidadão, Finanças, IMI, NIF, centro de saúde), while the common words, the spelling, the
progressive, the clitics, the forms of address and the syntax follow Brazilian usage.
The shared text of each pair avoids every marker of the other categories (no possessive
with an article, no ``ter de``, no ``até ao``, no second person, no enclisis...), so
each pair measures one category. pt-PT spelling is that of the 1990 agreement (receção,
facto, contacto, ação).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

VOCABULARY = """\
O [autocarro|ônibus] 27 passa em frente à Loja do Cidadão.
[Apanhei|Peguei] o [autocarro|ônibus] das oito para ir à escola.
[A paragem do autocarro|O ponto de ônibus] fica ao lado da farmácia.
O [comboio|trem] para o Porto sai às dez da manhã.
A empresa vai reforçar os [comboios|trens] nos fins de semana.
Comprei [o bilhete|a passagem] na estação.
O [telemóvel|celular] da Ana ficou na junta de freguesia.
Para receber o código, é preciso indicar o número de [telemóvel|celular].
[O ecrã|A tela] da máquina de senhas não funciona.
As informações aparecem [no ecrã|na tela] da entrada.
Envie o [ficheiro|arquivo] em formato PDF.
O formulário pede um [ficheiro|arquivo] com a fotografia.
A biblioteca não tem [casa de banho|banheiro] para o público.
Onde fica [a casa de banho|o banheiro] da escola?
A [equipa|equipe] da junta de freguesia limpou o jardim.
A [equipa|equipe] de enfermagem do centro de saúde atende das oito às oito.
Os [utilizadores|usuários] da biblioteca municipal podem levar dez livros para casa.
[A aplicação|O aplicativo] da câmara mostra os dias de [recolha|coleta] do lixo.
A [recolha|coleta] do lixo é feita às terças e sextas.
Coloque o saco dentro [do caixote do|da lata de] lixo.
Os [contentores|contêineres] de vidro ficam junto ao mercado.
Para mudar [a morada|o endereço] no cartão de cidadão, é preciso ir à Loja do Cidadão.
Escreva [a morada|o endereço] no verso do envelope.
No formulário, o [apelido|sobrenome] vem antes do nome próprio.
A funcionária perguntou o [apelido|sobrenome] da criança.
Sem [marcação|agendamento], o atendimento não é garantido.
Fiz [a marcação|o agendamento] pela internet.
É preciso preencher o [impresso|formulário] e assinar.
Guarde o [talão|comprovante] do pagamento do IMI.
Leve uma [fotocópia|cópia] do contrato.
Aguarde junto ao [balcão|guichê] número quatro.
Não é possível [levantar|sacar] dinheiro no mercado.
O [multibanco|caixa eletrônico] mais próximo fica na praça.
O IMI pode ser pago com cartão [multibanco|de débito].
Com as lâmpadas novas, a câmara vai [poupar|economizar] muito dinheiro.
[A renda|O aluguel] do apartamento subiu este ano.
Muitas famílias gastam metade do salário [na renda|no aluguel].
Os [reformados|aposentados] do bairro têm desconto na piscina municipal.
A junta organiza passeios para os [reformados|aposentados].
O pai da Rita pediu a [reforma|aposentadoria] aos sessenta e seis anos.
Os carros não podem estacionar em cima [do passeio|da calçada].
A câmara pintou uma nova [passadeira|faixa de pedestres] junto à escola.
Os [peões|pedestres] reclamam da falta de iluminação na rua.
A nova [rotunda|rotatória] vai reduzir o trânsito no centro.
O preço [da portagem|do pedágio] aumentou em janeiro.
Para renovar a [carta de condução|carteira de motorista], é preciso um atestado médico.
O [camião|caminhão] do lixo passa de madrugada.
Os [condutores|motoristas] que estacionam em segunda fila recebem multa.
A vizinha ofereceu [boleia|carona] à Marta.
A carteira perdida foi entregue na [esquadra|delegacia] do bairro.
A Rita passou a noite [nas urgências|no pronto-socorro] do hospital.
A enfermeira disse que era só [uma constipação|um resfriado].
A enfermeira mudou o [penso|curativo] da perna.
A escola serve o [pequeno-almoço|café da manhã] às oito.
Os alunos recebem fruta e [sumo|suco] natural.
Na festa do bairro, as crianças comeram [gelados|sorvetes].
O leite fica guardado [no frigorífico|na geladeira].
O [talho|açougue] do mercado municipal fecha à uma.
[Os miúdos|As crianças] adoraram a visita à biblioteca.
A nova piscina municipal é muito [fixe|legal].
[O ginásio|A academia] municipal abre às sete.
A câmara apoia o [desporto|esporte] escolar.
O [relvado|gramado] do estádio municipal foi substituído.
Os [adeptos|torcedores] encheram o estádio no domingo.
O [golo|gol] da vitória foi marcado no último minuto.
O [guarda-redes|goleiro] do clube local é filho da professora.
Muitos alunos têm [explicações|aulas particulares] de matemática.
A [montra|vitrine] da livraria mostra livros de autores locais.
As lojas da rua principal estão em [saldos|liquidação].
Uma [chávena|xícara] de café custa setenta [cêntimos|centavos].
Para entrar no Portal das Finanças, precisa da [palavra-passe|senha].
É possível [descarregar|baixar] o formulário no site da câmara.
Os computadores da biblioteca têm [rato|mouse] e teclado novos.
A escola emprestou um [portátil|notebook] a cada aluno.
Antes de fechar, é preciso [guardar|salvar] o documento.
A biblioteca fica no [rés-do-chão|térreo] do edifício.
A junta chamou um [canalizador|encanador] para a fonte do jardim.
A família da Marta vive [cá|aqui] há dez anos.
Faltam folhas e um [agrafador|grampeador] na secretaria da escola.
O [parque de |]estacionamento do hospital é pago.
O [condutor|motorista] conseguiu [travar|frear] a tempo.
A [rapariga|moça] que atende na biblioteca é muito simpática.
O [elétrico|bonde] 28 passa pela Sé.
A junta vai [arranjar|consertar] o banco do jardim.
O elevador do prédio está [avariado|quebrado] há uma semana.
A [banca|barraca] da fruta fica na entrada do mercado.
A cantina só serve leite [magro|desnatado].
Cada aluno tem um [cacifo|armário] no corredor.
A feira mudou de [sítio|lugar].
É proibido [deitar lixo para o|jogar lixo no] chão.
A escola publica [a ementa|o cardápio] da semana na internet.
Na Loja do Cidadão, é preciso [tirar|pegar] uma senha para ser atendido.
"""

SPELLING = """\
De [facto|fato], a fila na Loja do Cidadão estava enorme.
O [facto|fato] de a biblioteca fechar mais cedo irritou os leitores.
Na verdade, o [facto|fato] é que ninguém avisou os moradores.
Para mais informações, use o [contacto|contato] da junta de freguesia.
A escola pediu o [contacto|contato] [telefónico|telefônico] dos pais.
Perdi o [contacto|contato] com a antiga professora.
Os moradores podem [contactar|contatar] a câmara por email.
A [receção|recepção] do centro de saúde abre às oito.
Deixe a encomenda na [receção|recepção] do prédio.
A [receção|recepção] dos pedidos termina no dia 30.
A festa de [receção|recepção] aos novos alunos é na sexta.
O relatório [económico|econômico] da câmara foi publicado ontem.
A crise [económica|econômica] afetou o comércio local.
O apoio [económico|econômico] às famílias aumentou.
O [registo|registro] da criança foi feito no hospital.
É preciso fazer o [registo|registro] no site da câmara.
O [registo|registro] de entrada é obrigatório.
O prédio foi [registado|registrado] em nome da filha.
O [António|Antônio] trabalha na junta de freguesia.
O professor [António|Antônio] dá aulas de história na escola da vila.
O ano [académico|acadêmico] começa em setembro.
O calendário [académico|acadêmico] foi publicado.
A igualdade de [género|gênero] é um dos temas da assembleia municipal.
O [fenómeno|fenômeno] das cheias preocupa os moradores.
A estação fica a dois [quilómetros|quilômetros] do centro.
A ciclovia tem cinco [quilómetros|quilômetros].
A escola ganhou um [prémio|prêmio] de reciclagem.
A denúncia [anónima|anônima] chegou à câmara por carta.
O questionário é [anónimo|anônimo].
A [polémica|polêmica] sobre o estacionamento dividiu o bairro.
O correio [eletrónico|eletrônico] da junta está sempre cheio.
As faturas chegam por correio [eletrónico|eletrônico].
A receita [eletrónica|eletrônica] chega por mensagem.
O atendimento [telefónico|telefônico] é gratuito.
O clube municipal tem aulas de [ténis|tênis] para crianças.
O [bebé|bebê] da vizinha nasceu na semana passada.
A consulta do [bebé|bebê] é no centro de saúde.
A estação de [metro|metrô] fica ao lado da câmara.
O [metro|metrô] fecha à uma da manhã.
A doença [crónica|crônica] obriga a consultas regulares.
A [crónica|crônica] do jornal local fala da feira.
O [património|patrimônio] da cidade inclui três igrejas antigas.
A câmara quer proteger o [património|patrimônio] histórico do bairro.
A [cerimónia|cerimônia] de entrega dos [prémios|prêmios] foi no salão nobre.
O [topónimo|topônimo] da rua homenageia um poeta.
A região [autónoma|autônoma] da Madeira tem regras próprias.
A [colónia|colônia] de férias da câmara recebe cem crianças.
A [perceção|percepção] dos moradores é que o bairro está mais seguro.
O [aspeto|aspecto] do jardim melhorou muito.
Esse é um [aspeto|aspecto] importante do regulamento.
Na [perspetiva|perspectiva] da junta, a obra é urgente.
Os [espetadores|espectadores] encheram o auditório municipal.
A [secção|seção] de urbanismo fica no segundo andar.
A [secção|seção] de obras respondeu ao pedido.
Uma [infeção|infecção] respiratória obrigou a fechar a sala.
A [infeção|infecção] urinária precisa de antibiótico.
Os sensores servem para [detetar|detectar] incêndios.
O radar permite [detetar|detectar] excesso de velocidade.
O [carácter|caráter] urgente do pedido foi confirmado.
A associação tem [dezasseis|dezesseis] voluntários.
A filha da Ana tem [dezassete|dezessete] anos.
A escola abriu há [dezanove|dezenove] anos.
O ar é muito [húmido|úmido] nas casas junto ao rio.
A associação conta [connosco|conosco] para a festa.
Os voluntários vêm [connosco|conosco] à reunião.
As condições [higiénicas|higiênicas] da cantina foram aprovadas.
Os funcionários da câmara recebem um [bónus|bônus] em dezembro.
O nível de [oxigénio|oxigênio] no lago baixou.
O [puré|purê] de batata da cantina é feito na hora.
A [Mónica|Mônica] é enfermeira no centro de saúde.
A [conceção|concepção] do novo parque demorou dois anos.
O pavilhão tem aulas de [judo|judô] para adultos.
O centro de dia tem um grupo de [croché|crochê].
O árbitro marcou um [pénalti|pênalti] no fim do jogo.
O festival de teatro [cómico|cômico] começa em julho.
A professora tem dois filhos [gémeos|gêmeos].
O técnico [sénior|sênior] da câmara explicou o projeto.
Os carros a [hidrogénio|hidrogênio] ainda são raros.
"""

# Progressive: "subject aux|infinitive|rest"; the gerund is derived by rule.
PROGRESSIVE = """\
A junta de freguesia está|limpar|as ruas do bairro.
Os funcionários da câmara estão|pintar|as paredes da escola.
A câmara municipal está|preparar|o orçamento para o próximo ano.
As Finanças estão|enviar|as notas de cobrança do IMI.
A escola está|organizar|uma feira do livro.
Os moradores estão|recolher|assinaturas contra o novo parque.
A biblioteca municipal está|oferecer|livros usados.
O centro de saúde está|vacinar|os idosos contra a gripe.
Os bombeiros estão|apagar|um incêndio perto da estrada.
A polícia está|controlar|o trânsito junto ao mercado.
Neste momento, a Loja do Cidadão está|atender|apenas com senha.
A enfermeira está|medir|a temperatura das crianças.
Os alunos do nono ano estão|estudar|para os exames nacionais.
A professora está|corrigir|os trabalhos de matemática.
O presidente da junta está|falar|com os comerciantes da praça.
A associação de moradores está|preparar|a festa de verão.
Os voluntários estão|distribuir|comida às famílias do bairro.
A câmara está|estudar|uma nova linha de transporte.
As obras estão|causar|muito barulho na rua.
Estou|preencher|o formulário do IRS.
Estamos|esperar|a resposta da câmara há duas semanas.
O vizinho do lado está|construir|um muro sem licença.
A Maria estava|pagar|o IMI quando o sistema falhou.
Os técnicos estavam|verificar|a iluminação pública.
Ontem à noite, os vizinhos estavam|discutir|as obras no prédio.
Quando cheguei, a funcionária estava|fechar|a porta.
A escola anda|pedir|mais professores há meses.
Os moradores andam|reclamar|do barulho das obras.
A junta anda|plantar|árvores em todas as ruas.
A câmara continua|adiar|a obra da piscina.
Os preços das casas continuam|subir|em todo o país.
A fila continua|crescer|na entrada das Finanças.
O médico ficou|olhar|para os exames durante muito tempo.
As crianças ficaram|brincar|no parque até tarde.
Estive|ler|o regulamento municipal e não encontrei nada.
Os técnicos estiveram|analisar|a água da piscina.
A Câmara de Lisboa está|rever|o plano de mobilidade.
O governo está|preparar|novas regras para o IMI.
A farmácia está|vender|testes rápidos a preço reduzido.
A cantina está|servir|refeições vegetarianas.
O bairro está|mudar|muito nos últimos anos.
Os turistas estão|encher|as ruas do centro histórico.
A população está|envelhecer|no interior do país.
A câmara está|instalar|painéis solares nas escolas.
Os comerciantes estão|pedir|mais estacionamento.
Os pais estão|exigir|mais segurança na entrada da escola.
Estou|tratar|da renovação do cartão de cidadão.
A junta está|apoiar|os idosos que vivem sozinhos.
Os jovens estão|sair|do bairro por causa do preço das casas.
A rede de esgotos está|falhar|em várias ruas.
Os engenheiros estão|calcular|o custo da nova ponte.
Está|chover|muito e a feira foi adiada.
A associação está|vender|rifas para ajudar a escola.
A vereadora estava|explicar|o projeto quando a sessão foi interrompida.
Os alunos estavam|ouvir|a palestra sobre reciclagem.
Estávamos|jantar|quando o telefone tocou.
O Pedro está|aprender|a usar o Portal das Finanças.
A cidade está|receber|cada vez mais estudantes estrangeiros.
A biblioteca está|digitalizar|os jornais antigos da vila.
Os carteiros estão|entregar|as cartas com atraso.
A Inês está|fazer|um curso de informática.
Os serviços estão|funcionar|normalmente.
O rio está|subir|depois das chuvas.
O município está|perder|habitantes todos os anos.
A mãe do Rui está|cuidar|dos netos durante as férias.
Os vereadores estão|votar|o novo regulamento.
Os estudantes estão|protestar|em frente à reitoria.
A câmara está|testar|um novo sistema de bicicletas.
A Joana anda|procurar|casa perto do trabalho.
Os idosos do bairro estão|aprender|a usar o computador.
A empresa das águas está|substituir|os canos da rua.
Estou|ver|o jogo com os vizinhos.
O técnico está|pôr|os cartazes da feira.
A junta está|fazer|obras no cemitério.
"""

CLITIC = """\
A funcionária [disse-me|me disse] que o cartão ainda não tinha chegado.
O médico [explicou-me|me explicou] como tomar o medicamento.
A junta de freguesia [enviou-nos|nos enviou] uma carta sobre as obras.
Os vizinhos [queixam-se|se queixam] do barulho do café.
A reunião [realiza-se|se realiza] na sede da junta.
A feira [realiza-se|se realiza] no primeiro domingo de cada mês.
O Rui [mudou-se|se mudou] para Braga no ano passado.
A família da Ana [inscreveu-se|se inscreveu] no centro de saúde.
Amanhã vou [inscrever-me|me inscrever] na piscina municipal.
A Marta quer [candidatar-se|se candidatar] à junta de freguesia.
[Lembro-me|Me lembro] bem da antiga estação.
[Chamo-me|Me chamo] Teresa e moro em Setúbal.
A funcionária [pediu-me|me pediu] o NIF.
O carteiro [deixou-nos|nos deixou] um aviso na porta.
As Finanças [enviaram-me|me enviaram] a nota de cobrança do IMI.
A escola [ligou-me|me ligou] por causa do trabalho de casa.
O presidente da junta [reuniu-se|se reuniu] com os moradores.
Os alunos [esqueceram-se|se esqueceram] dos livros em casa.
A câmara [comprometeu-se|se comprometeu] a asfaltar a estrada.
A biblioteca [encontra-se|se encontra] fechada para obras.
O serviço [encontra-se|se encontra] disponível no Portal das Finanças.
A professora [despediu-se|se despediu] dos alunos no último dia de aulas.
Os pais [preocupam-se|se preocupam] com a segurança das crianças.
A Joana [sentiu-se|se sentiu] mal e foi ao centro de saúde.
A enfermeira [deu-me|me deu] uma senha para a consulta.
O senhor da junta [mostrou-nos|nos mostrou] o projeto do novo jardim.
A vizinha [emprestou-me|me emprestou] uma escada.
O segurança [perguntou-me|me perguntou] onde eu ia.
A técnica da câmara [respondeu-nos|nos respondeu] por email.
A Sofia [formou-se|se formou] em enfermagem em Coimbra.
O bairro [transformou-se|se transformou] nos últimos anos.
Os comerciantes [juntaram-se|se juntaram] para limpar a praça.
O Miguel [ofereceu-se|se ofereceu] para ajudar na festa.
A câmara [recusou-se|se recusou] a comentar o caso.
O prazo [aproxima-se|se aproxima] e muitos ainda não entregaram a declaração.
A escola [situa-se|se situa] perto do mercado municipal.
O Paulo [atrasou-se|se atrasou] e perdeu a vez na fila.
Os moradores [organizaram-se|se organizaram] para pedir mais iluminação.
A médica [receitou-me|me receitou] um xarope para a tosse.
A funcionária das Finanças [ajudou-me|me ajudou] a preencher a declaração.
A câmara [informou-nos|nos informou] de que a rua vai fechar.
Um vizinho [contou-me|me contou] que a feira mudou de dia.
Os técnicos [garantiram-nos|nos garantiram] que a água é segura.
A diretora da escola [convidou-nos|nos convidou] para a festa de fim de ano.
O Tiago [esqueceu-se|se esqueceu] do cartão de cidadão em casa.
Os idosos [sentem-se|se sentem] sozinhos no inverno.
A cidade [prepara-se|se prepara] para receber o festival.
A associação [dedica-se|se dedica] a ajudar famílias do bairro.
A Rita [casou-se|se casou] na igreja da vila.
A fila [formou-se|se formou] antes de a loja abrir.
O presidente da câmara [demitiu-se|se demitiu] ontem.
O problema [resolveu-se|se resolveu] numa semana.
A Beatriz vai [matricular-se|se matricular] na escola de música.
O Jorge deve [apresentar-se|se apresentar] nas Finanças até sexta.
Os alunos podem [inscrever-se|se inscrever] até sexta-feira.
A Ana quer [mudar-se|se mudar] para mais perto do trabalho.
O cão [perdeu-se|se perdeu] no parque da cidade.
Os preços da água [mantêm-se|se mantêm] estáveis este ano.
O Manuel [sentou-se|se sentou] no banco do jardim.
A vereadora [comprometeu-se|se comprometeu] com os pais da escola.
Eu [lembro-me|me lembro] do dia em que abriram a biblioteca.
Ela [chama-se|se chama] Graça e trabalha na junta.
Nós [conhecemo-nos|nos conhecemos] na reunião de pais.
Eles [encontraram-se|se encontraram] em frente à câmara.
O Pedro [deitou-se|se deitou] cedo porque trabalha de madrugada.
A escola [tornou-se|se tornou] um exemplo de reciclagem.
O funcionário [enganou-se|se enganou] nas contas do recibo.
A Inês [divorciou-se|se divorciou] no ano passado.
A câmara [candidatou-se|se candidatou] a fundos europeus.
A Maria [tinha-se|tinha se] inscrito no curso de informática.
Os moradores [tinham-se|tinham se] queixado várias vezes.
O prazo [tinha-se|tinha se] esgotado quando o pedido chegou.
"""

ADDRESS = """\
[Podes|Você pode] marcar a consulta pelo telefone.
[Tens|Você tem] o cartão de cidadão [contigo|com você]?
Já [pagaste|pagou] o IMI deste ano?
Se [precisares|precisar] de ajuda, a junta de freguesia está aberta à tarde.
Quando [chegares|chegar] à Loja do Cidadão, [vai|vá] diretamente ao primeiro andar.
[Sabes|Você sabe] a que horas abre a biblioteca?
[Queres|Você quer] vir à reunião de moradores?
[Viste|Você viu] o aviso da câmara sobre as obras?
[Preenche|Preencha] o formulário e [entrega|entregue] na secretaria.
[Lê|Leia] as instruções antes de assinar.
[Escreve|Escreva] o NIF no canto superior do papel.
Não [te esqueças|se esqueça] de levar o cartão de cidadão.
[O teu|Seu] pedido já foi aprovado.
A consulta do [teu|seu] filho é amanhã.
[Podes|Você pode] pagar o IMI em três prestações.
Se [quiseres|quiser], [podes|pode] pedir o cartão pela internet.
[Estás|Você está] inscrito no centro de saúde?
Onde [deixaste|você deixou] o carro?
[Conheces|Você conhece] o novo presidente da junta?
[Vens|Você vem] à festa do bairro no sábado?
Obrigado por [teres|ter] vindo à reunião.
[Precisas|Você precisa] de uma declaração da junta de freguesia?
[Consegues|Você consegue] ver o horário no site?
Onde [moras|você mora]?
[Lembras-te|Você se lembra] da antiga escola?
[Trazes|Você traz] os documentos amanhã?
[Fizeste|Você fez] o pedido na Loja do Cidadão?
[Deves|Você deve] renovar o cartão antes do fim do prazo.
[Leva|Leve] uma fotografia recente.
[Liga|Ligue] para o centro de saúde antes de ir.
[Pede|Peça] a declaração na secretaria da escola.
[Vê|Veja] se [o teu|seu] nome está na lista.
[Diz|Diga] à professora que [chegas|você chega] mais tarde.
Se [tiveres|tiver] dúvidas, [fala|fale] com a assistente social.
Vou [contigo|com você] às Finanças.
Chegou uma carta para [ti|você].
[Tu|Você] também [recebeste|recebeu] a carta da câmara?
[Achas|Você acha] que a obra acaba este ano?
[Podes|Você pode] ver se a farmácia está aberta?
Quando [fores|for] às Finanças, [leva|leve] o contrato.
[Estiveste|Você esteve] na reunião de ontem?
[Deixa|Deixe] o lixo no ecoponto mais próximo.
[Usa|Use] a entrada lateral durante as obras.
Se [fizeres|fizer] o pedido hoje, o cartão chega na próxima semana.
[Perdeste|Você perdeu] o cartão de cidadão?
[Sabias|Você sabia] que a piscina municipal abre aos domingos?
[Gostaste|Você gostou] da festa do bairro?
[Vais|Você vai] votar no domingo?
[Moras|Você mora] perto da escola?
[Chegaste|Você chegou] a tempo à consulta?
[Queres|Você quer] que eu peça a senha?
[Tens|Você tem] dez minutos para falar com o vereador?
[Podes|Você pode] deixar as chaves na junta de freguesia.
[Esqueceste|Você esqueceu] a senha?
[Recebeste|Você recebeu] a resposta da escola?
[Escolhe|Escolha] o dia e a hora da consulta.
[Confirma|Confirme] os dados antes de enviar.
[Guarda|Guarde] o recibo do pagamento.
[Responde|Responda] ao email da secretaria.
[Espera|Espere] pela chamada do centro de saúde.
[Verifica|Verifique] se o pagamento foi feito.
[Faz|Faça] o pedido com antecedência.
[Põe|Ponha] o vidro no ecoponto verde.
[Vem|Venha] à biblioteca na sexta-feira.
[Traz|Traga] o cartão de cidadão e o NIF.
Se [puderes|puder], [passa|passe] pela junta amanhã.
[Já decidiste|Você já decidiu] onde [vais|vai] morar?
[Ouviste|Você ouviu] as notícias sobre a nova escola?
A decisão é [tua|sua].
Este guarda-chuva é [teu|seu]?
[Aprendeste|Você aprendeu] a usar o Portal das Finanças?
[Trabalhas|Você trabalha] na câmara municipal?
[Pagas|Você paga] a água todos os meses?
"""

SYNTAX = """\
Os moradores têm [de|que] pagar a taxa do lixo em março.
Todos os proprietários têm [de|que] pagar o IMI.
Tenho [de|que] renovar o cartão de cidadão este mês.
A câmara teve [de|que] fechar a piscina durante o verão.
Os alunos têm [de|que] levar o almoço na sexta-feira.
Tivemos [de|que] esperar duas horas nas Finanças.
A junta tem [de|que] responder ao pedido em dez dias.
Quem quiser votar tem [de|que] levar um documento de identificação.
O dono do prédio tem [de|que] fazer as obras.
Os carros têm [de|que] sair da rua antes das oito.
A câmara teve [de|que] pedir desculpa aos moradores.
A consulta vai ter [de|que] ser adiada.
Os voluntários têm [de|que] fazer uma formação.
A reunião foi [em|na] casa da presidente da associação.
O jantar de Natal foi [em|na] casa dos avós.
As crianças ficam [em|na] casa da avó depois da escola.
A chave ficou [em|na] casa do vizinho.
A festa foi [em|na] casa do Pedro.
Estudamos [em|na] casa da Rita às quartas.
O Rui esteve [em|na] casa de uns amigos no Porto.
Cheguei [à|na] Loja do Cidadão às nove em ponto.
O Rui chegou [ao|no] centro de saúde com febre.
Quando a ambulância chegou [ao|no] hospital, a fila era enorme.
Os documentos chegaram [às|nas] Finanças na segunda-feira.
A carta chegou [à|na] junta de freguesia com atraso.
A Rita só chegou [a|em] casa às onze.
Os filhos chegaram [a|em] casa mais cedo.
[A minha|Minha] mãe trabalha na câmara municipal.
[O meu|Meu] filho estuda na escola do bairro.
[O nosso|Nosso] bairro precisa de mais árvores.
[A minha|Minha] vizinha trabalha no centro de saúde.
[O meu|Meu] pedido foi recusado pela câmara.
[A nossa|Nossa] rua está sem luz desde ontem.
[Os meus|Meus] pais moram perto do mercado.
[A nossa|Nossa] escola ganhou o concurso de reciclagem.
[O meu|Meu] avô recebe a pensão no dia oito.
[A minha|Minha] irmã trabalha nas Finanças.
O mercado abre [ao sábado|aos sábados] de manhã.
A biblioteca fecha [ao domingo|aos domingos].
As aulas de natação são [à terça-feira|às terças-feiras].
O lixo é recolhido [à segunda|às segundas] e [à quinta|às quintas].
A reunião de pais é sempre [à quarta-feira|às quartas-feiras].
O carteiro passa [todos os dias|todo dia] às onze.
A Ana vai à piscina [todos os dias|todo dia].
[Há|Tem] uma fila enorme nas Finanças.
[Há|Tem] muitos buracos na estrada nova.
Na junta de freguesia [há|tem] formulários em papel.
[Há|Tem] vagas na creche do bairro?
Hoje não [há|tem] aulas por causa da greve.
[Há|Tem] um novo café em frente à escola.
[Há|Tem] obras na rua até sexta-feira.
O prazo do IRS vai até [ao|o] fim de junho.
A estrada está fechada até [ao|o] fim das obras.
O serviço funciona até [ao|o] meio-dia.
A Ana caminhou até [ao|o] mercado.
A linha nova vai até [ao|o] hospital.
As crianças jogam [à|] bola no recreio.
O carteiro deixou o aviso [à|na] porta.
Os pais esperam [à|na] porta da escola.
[Ao|No] fim de semana, a biblioteca fecha mais cedo.
O prazo termina [a|em] 31 de maio.
As inscrições abrem [a|em] 2 de setembro.
Liguei [à|para a] junta de freguesia para pedir uma declaração.
A escola ligou [aos|para os] pais dos alunos.
Amanhã ligo [ao|para o] médico de família.
[Para o ano|No ano que vem], a escola vai ter mais turmas.
[Para o ano|No ano que vem], o IMI vai baixar.
A farmácia fica [ao pé|perto] da escola.
O ecoponto está [ao pé|perto] do mercado.
Tocaram [à|a] campainha às sete da manhã.
"""

_SLOT = re.compile(r"\[([^\[\]|]*)\|([^\[\]|]*)\]")


def _gerund(infinitive: str) -> str:
    """Brazilian progressive form: -ar -> -ando, -er -> -endo, -ir -> -indo (pôr -> pondo)."""
    if infinitive == "pôr":
        return "pondo"
    stem, ending = infinitive[:-2], infinitive[-2:]
    return stem + {"ar": "ando", "er": "endo", "ir": "indo"}[ending]


def _tidy(text: str) -> str:
    return re.sub(r" {2,}", " ", text).strip()


def _from_template(line: str) -> tuple[str, str, list[list[str]]]:
    markers = [[m.group(1).strip(), m.group(2).strip()] for m in _SLOT.finditer(line)]
    pt = _tidy(_SLOT.sub(lambda m: m.group(1), line))
    br = _tidy(_SLOT.sub(lambda m: m.group(2), line))
    return pt, br, markers


def _progressive(line: str) -> str:
    head, infinitive, rest = line.split("|")
    return f"{head} [a {infinitive}|{_gerund(infinitive)}] {rest}"


def pairs() -> list[dict[str, object]]:
    blocks = {
        "vocabulary": VOCABULARY,
        "spelling": SPELLING,
        "progressive": "\n".join(_progressive(x) for x in PROGRESSIVE.splitlines()),
        "clitic": CLITIC,
        "address": ADDRESS,
        "syntax": SYNTAX,
    }
    out: list[dict[str, object]] = []
    for category, block in blocks.items():
        for n, line in enumerate(block.splitlines(), start=1):
            pt, br, markers = _from_template(line)
            pair = {"id": f"{category}-{n:03d}", "category": category}
            out.append({**pair, "pt_PT": pt, "pt_BR": br, "markers": markers})
    return out


def main() -> None:
    path = Path(__file__).with_name("variety_pairs.jsonl")
    lines = [json.dumps(p, ensure_ascii=False) for p in pairs()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} pairs to {path}")


if __name__ == "__main__":
    main()
