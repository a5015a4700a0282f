# ruff: noqa: E501  (the cues are data: one pattern line each reads better than wrapped strings)
"""What support messages say without sentiment words: the cues of a complaint, a chase and a thanks, per
language, for `storage.sentiment`.

A general lexicon (TextBlob's) reads "still no refund after 3 weeks" or "order 2 weeks late and nobody
answers" as neutral: none of their words is an opinion. In support traffic they are complaints. Each
language lists regular expressions, matched on the lowercased text with accents folded and apostrophes
straightened, each with a weight: negative for problems, chasing and demands, positive for thanks,
praise and a problem solved. `RESOLVED` cues are the positive ones that still count after a complaint in
the same message ("it was broken, now it works, thanks!"). `CONTRAST` words end a clause whose tone the
next clause overrides ("thanks, but it still doesn't work").

Written from the support domain, then checked against the development split of bench/data (never the
test split); docs/metrics.md, "sentiment", says how they combine.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import NamedTuple

# (pattern, weight): patterns are regex fragments matched as whole words on folded text.
# fmt: off
CUES: dict[str, list[tuple[str, float]]] = {
    "en": [
        # strong words of a complaint
        (r"scam|worst|useless|unacceptable|ridiculous|disgusting|pathetic|joke|rude|nightmare|terrible", -1.0),
        (r"awful|horrible|horrendous|appalling|shocking|incompetent|clueless|rubbish|garbage|trash", -1.0),
        (r"disappointed|disappointing|annoyed|annoying|frustrated|frustrating|fed up|sick of|furious", -1.0),
        (r"angry|upset|livid|never again|ruined|waste of|wasted|are you serious|unbelievable", -1.0),
        (r"not happy|not ok|not okay|not acceptable|not good enough|no excuse|how hard|now what", -0.8),
        (r"done with you|i'm done|im done|going elsewhere|tak(e|ing) my business|switching to|leaving you|lost a customer", -0.8),
        (r"this is how you treat|anyone\?|anyone there|is anyone|hello\?+|is this a joke|on hold|talk to a (human|person)", -0.7),
        (r"speak to (a|someone|somebody|an?)|real (person|human)|chat ?bot again|bot again", -0.5),
        (r"this is how (i'm|i am|we're|we are|you|your) \w+|(loyal|long-?time|long standing) customer (for|of|since)", -0.7),
        # a problem
        (r"late(?! (checkout|check-out|check out|fee|fees|night|shift))|delayed?|delays|overdue|lost|missing|damaged|broken|broke|cracked|smashed|faulty|leak\w*", -0.7),
        (r"defective|wrong|error|errors|crash(es|ed|ing|in)?|bug|bugs|glitch\w*|frozen|freez\w+|dead|unusable", -0.7),
        (r"refus\w+|rejected|denied|declined|deleted all|wiped|opened and|half empty|not what", -0.6),
        (r"instead of(?! having)", -0.5),
        (r"(doesn't|doesnt|does not|don't|dont|didn't|didnt|won't|wont|isn't|isnt|not) (work\w*|load\w*)", -0.8),
        (r"(doesn't|doesnt|won't|wont|isn't|isnt|wasn't|wasnt|didn't|didnt|hasn't|hasnt|can't|cant|aren't|arent|weren't|wouldn't|wouldnt) (?!expect|mind|know|think|complain|fault|wait|recommend|thank)\w+", -0.4),
        (r"stopped working|not working|no longer work\w*|cannot|could not|couldn't|unable", -0.7),
        (r"locked( out)?|blocked|suspended|banned|hacked|invisible|disappeared|vanished", -0.6),
        (r"someone (logged|used|accessed|ordered)|not me|didn't (order|authori[sz]e)", -0.6),
        (r"charged (me )?twice|double charged|charged (me )?again|overcharged|twice this|taken twice", -0.9),
        (r"still (charging|taking|billing)|taking (my )?money|took (my )?money|billed for|charged (me )?for", -0.7),
        (r"(charge|fee) (on|nobody|no one|i)|without (any )?(reminder|warning|notice|asking)", -0.7),
        (r"(never|not|hasn't|hasnt|haven't|havent|didn't|didnt) (arrived?|received?|came|come|turned up)", -0.8),
        (r"never (arrives?|came|comes|got|get|showed|turned|received|rang|called|heard)", -0.8),
        (r"(nothing|no one|nobody|noone) (at|has|have|is|answers?|replie[sd]|responds?|called|came|mentioned|told)", -0.8),
        (r"no (answer|reply|replies|response|update|refund|help|sign|news|idea|one)", -0.7),
        (r"still(?! (lov|lik|enjoy|going strong|the best|happy|great|good|works? (fine|great|perfectly)))", -0.4),
        (r"stuck|ignored|ignoring|ghosted|(second|third|fourth|fifth) (time|parcel|order|one)|\d+(st|nd|rd|th) (time|parcel|order|one)", -0.6),
        (r"\d+ times|(two|three|four|five|several|many|multiple) times|in a row|yet again|once again|again and again", -0.6),
        (r"another (week|day|month|hour|email|call)|(weeks?|wks?|days?|months?|hours?|hrs?) (ago|later|now|late)", -0.6),
        (r"(since|for) (last|over|weeks|days|months|\d+ (weeks?|wks?|days?|hours?|hrs?|months?))|day \d+", -0.5),
        (r"it'?s been|its been|you (said|told|promised)|u said|promised|literally|at least|supposed to", -0.5),
        (r"where is (my|the|it)|where's (my|the|it)|when (will|do|can) i (get|receive)|how long", -0.5),
        (r"waiting|keeps? \w+ing|every (time|evening|morning|day|night)|each time", -0.5),
        (r"asap|immediately|right now|fix (this|it)|sort (this|it) out|refund me|want (my|a) refund|do it", -0.6),
        (r"(want|need|give me) my money back|way off|is off|all you('ll| will)? offer", -0.6),
        (r"cancel (it|this)|cancelling|complain(ed|ing)?|(a|my|the) complaint|escalate|report you|chargeback|dispute", -0.5),
        (r"too (expensive|much|slow|long)|overpriced|rip ?off|how is (that|this)", -0.6),
        (r"smh|ffs|wtf|ugh+|argh|meh", -0.5),
        # from the support domain at large (not from the set's messages)
        (r"outage|is down|went down|down again|not loading|won'?t load|so slow|too slow|laggy|spam|spamming", -0.6),
        (r"misleading|false advertising|lied|lying|liars?|disgrace\w*|shambles|fuming|gutted|sucks|crap|absurd|insane", -0.9),
        (r"compensation|ombudsman|trading standards|lawyer|legal action|small claims|one star|1 star|zero stars", -0.7),
        (r"never (ordering|buying|using|flying|shopping)|stop (emailing|texting|calling|charging)|can'?t believe|cannot believe", -0.8),
        (r"without (my )?(consent|permission|authori[sz]ation)|not refunded|no compensation|still paying|paid for nothing", -0.8),
        (r"please help|help me|urgent|urgently|emergency|hours (on|waiting|later)|for hours|all day|whole day", -0.5),
        (r"(money|payment|cash)('s| was| has been| is)? (gone|taken|debited|left my)|(took|taken|take) (the|my) money", -0.8),
        (r"been charged|charged (the|a|an|me|full|\d)|hung up|hang up|cut (me |us )?off|debt collect\w*|bailiffs?", -0.7),
        (r"does nothing|did nothing|nothing happens|blank (page|screen)|not applicable|under maintenance|burning|sparking", -0.6),
        (r"smells? (like|of)|no (signal|service|internet|connection|wifi|power|water|hot water|heating|reception)", -0.7),
        (r"go to a (shop|store|competitor)|same (copy[- ]paste |canned |generic )?(answer|reply|response)|copy[- ]?paste", -0.7),
        (r"(not|isn't|isnt|is not|wasn't|never) (resolved|fixed|sorted|solved)", -0.9),
        (r"to (\d+|two|three|four|five|six|several|multiple) (different )?(people|agents|departments)", -0.7),
        (r"came without|arrived without|without the|slows? (down )?to a crawl|crawl\w*|dropped|spill(ed|t)|all over the", -0.6),
        (r"(charged|billed|debited|taken) (my card |me |us |it )?twice|charging (me|us)|nothing like (the|what)|was meant to be|meant to be", -0.7),
        (r"ordered (a|an|the) [\w ]{1,30}, (got|received)|got a different|(it|they) (wasn't|wasnt|isn't|isnt|didn't|didnt|aren't)", -0.6),
        (r"expired|has expired|out of sync|buffer(s|ing)?|404|split open|stank|stinks|smelled|skips? step|missed (the|my|our)", -0.6),
        (r"reported (it|this)|been out|out since|reversed into|drove off|ran (into|over)|hit my|unpaid|auto-?renew\w*", -0.6),
        (r"asked (you )?not to|i had asked|without anyone|(was|were) swapped|(full|down|broken|late|wrong|missing|failed|crashed|happened|stuck) again", -0.6),
        (r"went from \S+ to|from [£$€]?\d[\d,.]* to [£$€]?\d|anyway|regardless|zero (replies|response|responses|answers)|no new date|now (told|says|it says|shows)|an estimate|estimated bill", -0.6),
        (r"(fee|fees|items|charge|it|this|parcel|box|bill|payment|delivery|error) again|order(?<!would order)(?<!will order)(?<!'ll order) again|twice|two times|only (offers|prints|works|shows)", -0.5),
        (r"since (the )?(\w+day|install\w*|update|upgrade|v?\d[\w.]*|yesterday|this morning|then)", -0.5),
        # thanks, praise, a problem solved
        # (a courtesy "thanks in advance" thanks for nothing yet: no cue)
        (r"thanks?(?! in (advance|adv))|thank you(?! in advance)|thx|tysm|ty|cheers|appreciated?|grateful|kudos", 0.7),
        (r"perfect|great|excellent|brilliant|amazing|awesome|fantastic|wonderful|superb|lovely", 0.6),
        (r"love|loved|helpful|kind|patient|friendly|polite|quick|fast|speedy|smooth|easy", 0.5),
        (r"well done|good job|nice one|10/10|five stars|5 stars|best (service|support|team)|for life", 0.7),
        (r"never had (a |any )?(single )?(issue|problem)s?|no (issues|problems) at all|no complaints|can'?t complain", 1.2),
        (r"(not|wasn't|wasnt|never) disappointed|would recommend|highly recommend|recommend (you|them|it)", 1.2),
        (r"painless|rock solid|solid|respect|legend\w*|impressed|decent|spot on|like a dream|fits perfectly", 0.7),
        (r"above and beyond|loving it|still love|best (game|app|service|purchase|thing|experience|support)", 0.7),
        (r"in years|explained everything|without jargon|understood it|listened", 0.5),
        (r"game changer|can'?t fault|cannot fault|made my (day|week|month|year)|so gentle|above expectations|exceeded", 1.0),
        (r"(easiest|smoothest|quickest|fastest|simplest|best) \w+ (ever|i've had|i have had)|easiest|smoothest|wow|really helped|helped a lot", 0.6),
        (r"within (seconds|minutes|the hour)|in (under )?(an hour|\d+ minutes|minutes|seconds)", 0.4),
        (r"would (\w+ )?(order|buy|shop|use|book|fly|stay|recommend)( \w+)? again|will (definitely |def )?(order|buy|shop|use|book|fly|stay) (again|here)|will be back", 0.8),
        (r"never (let|lets|has let) (me|us) down|proper (service|job)", 0.8),
        # 2026-12-06, from the development messages' misses: problems named without a sentiment word
        (r"thanks? for nothing|thank you for nothing|so much for(?<!you so much for)(?<!thanks so much for)(?<!ty so much for)|that'?s (your|the) (answer|solution|excuse)|is that (it|your answer)", -1.0),
        (r"why(?<!explained why)(?<!exactly why)(?! not\b)|seriously(?=\s*(?:$|[?!.,]))", -0.6),
        (r"(?<!in )(?<!within )(?<!every )(?<!for )(\d+|two|three|four|five|six|seven|eight|nine|ten|a few|several) (days?|weeks?|wks?|months?)(?! (free|early|trial|notice|in advance|before|ahead|after))|(it's|its|it has|over|almost|nearly) (been )?(a|one) (week|fortnight|month)", -0.4),
        (r"only (\d+|one|two|three|four|five|half|part|some)(?! (minutes?|mins?|seconds?|secs?)\b)|(\d+|one|two|three|four) of (the |my |our )?(\d+|two|three|four|five|six)\b", -0.5),
        (r"only (plays?|works?|charges?|connects?|lasts?|lasted|loads?|opens?|goes|gets)|(\d+|two|three|four|five|six) different|refunded (for|me for) (\d+|one|two|half)", -0.5),
        (r"ordered [^.?!]{1,40}?(,| and| but) (i )?(got|received|was sent|they sent|you sent|came)|got nothing|received nothing|nothing (yet|so far|back|arrived|came|changed|happened)|no money|not a penny", -0.6),
        (r"came off|come off|fell off|falling apart|fell apart|falls apart|snapped|slips|slipping|slipped|disappears|disappearing|vanishes|rejects|rejecting|let (me|us) down|peeling|torn|ripped|dented|soaked|mou?ldy?|drains|draining|died|dies|dying|overheat\w*|grinding|rattl\w+|greyed out|grayed out|loops|looping|ate my|swallowed|empty|faded|shr[au]nk|stained|scratched|chipped", -0.6),
        (r"same (problem|fault|issue|error|thing|defect|battery|bug)", -0.6),
        (r"doubled|tripled|went up|gone up|goes up|go up|price (rise|rises|hike|hikes|increase|increases)|prices? (rise|hike|increase)|hiked|more than (new|other) customers", -0.5),
        (r"(second|third|fourth|fifth|2nd|3rd|4th|5th|\d+th) (this|in a|of the) (year|month|week|row)", -0.6),
        (r"missed (deliver\w*|appointments?|slots?|collections?)|no[- ]show|didn'?t (turn up|show up|knock|ring)|(nobody|no one) knocked|without knocking|i was (in|home|at home|here) all", -0.6),
        (r"(just|i) give up|ever (going to|gonna|coming|arrive)|any time soon|at this rate|went through (and|but)", -0.6),
        (r"yet(?=\s*(?:$|[.!?,]))", -0.4),
    ],
    "fr": [
        (r"arnaque|nul|nulle|nuls|honteux|honte|inadmissible|inacceptable|scandal\w*|lamentable", -1.0),
        (r"catastroph\w*|horrible|affreux|pire|decu|decue|degoute\w*|marre|ras le bol|en colere", -1.0),
        (r"n'importe quoi|c'est une blague|pas normal|pas serieux|plus jamais|jamais plus|inutile", -1.0),
        (r"pas content\w*|pas satisfait\w*|mecontent\w*|insatisfait\w*|agace\w*|enerve\w*", -0.9),
        (r"retard|en retard|retarde\w*|perdu\w*|manquant\w*|endommage\w*|abime\w*|casse\w*", -0.7),
        (r"cass\w+|fissure\w*|defectueu\w+|en panne|panne|bug\w*|beug\w*|plante\w*|erreur\w*|bloque\w*", -0.7),
        (r"(ne|n') ?(marche|fonctionne|charge|s'allume|s'ouvre)\w* (pas|plus)|marche pas|fonctionne pas", -0.8),
        (r"impossible|je n'arrive pas|j'arrive pas|n'arrive (pas|toujours)|pas moyen|incapable", -0.7),
        (r"debite\w* (deux|2) fois|double (debit|prelevement)|preleve\w* (deux|2) fois|trop percu", -0.9),
        (r"toujours (pas|rien|en attente|aucun\w*|bloque\w*|le meme)|toujours sans|toujours", -0.6),
        (r"(jamais|pas) (recu|arrive\w*|livre\w*)|rien recu|non (recu|livre\w*)|pas de (reponse|nouvelles)", -0.8),
        (r"aucune? (reponse|nouvelle|retour|remboursement|solution|aide)|personne ne|sans reponse", -0.8),
        (r"depuis (\d+|deux|trois|une|des|plus)|il y a (\d+|deux|trois|une) (jours?|semaines?|mois)", -0.5),
        (r"(encore|troisieme|deuxieme|\d+e) fois|encore une fois|relance\w*|j'attends(?! (votre|vos|ta) (retour|reponse))|attente", -0.6),
        (r"ou est (mon|ma|le|la)|c'est quand|combien de temps", -0.5),
        (r"pourquoi", -0.6),
        (r"rembourse\w*[- ]moi|je veux (mon|etre|un) rembours\w*|urgent|au plus vite|reglez", -0.6),
        (r"trop cher|hors de prix|abuse|plainte|reclamation", -0.6),
        (r"mdr|wtf|pfff*|grr+", -0.5),
        (r"encore une?|ce que je veux|je veux (juste|seulement)|dommage|mais pas|personne n'|devait (passer|arriver|venir)", -0.6),
        (r"bof|mouais|pas convaincu\w*|decolle\w*|dechire\w*|tombe\w*|a chaque (fois|mise a jour)|systematique\w*", -0.6),
        (r"ne repond (plus|pas|jamais)|repond (plus|pas|jamais)|(jamais|pas) (ete )?(expedie|envoye|livre)\w*|multipli\w+ par|annule\w* (ma|mon)", -0.7),
        (r"panne generale|ne charge pas|ne s'affiche pas|trop lent|lent\w*|spam|mensonge\w*|menteur\w*|honteu\w+|indigne", -0.7),
        (r"dedommagement|indemnisation|avocat|plainte|mediateur|une etoile|1 etoile|zero etoile|plus jamais chez vous", -0.7),
        (r"sans (mon )?(accord|consentement|autorisation)|pas rembourse\w*|toujours rien|ca fait (\d+|deux|trois|une)", -0.8),
        (r"aidez[- ]moi|au secours|urgence|des heures|toute la journee", -0.5),
        (r"zero|foutez|fout|se moque\w*|moquez|insupportable|raccroche\w*|faut pas abuser|abuser", -0.9),
        (r"sans (prevenir|explication|raison|aucune?|reponse|nouvelles)|je veux des (reponses|explications)", -0.8),
        (r"expire\w*|fuit|fuite|redemarre\w*|tien\w* pas|suspendu\w*|(a ete|est|ete) desactive\w*|supprime\w*", -0.6),
        (r"hausse|augment\w+|deuxieme|troisieme|on en est a|(on m'avait|vous m'avez|vous aviez) promis", -0.6),
        (r"attendre|attends(?! (votre|vos|ta) (retour|reponse))|attend|depuis (le|la|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|hier)", -0.6),
        (r"depuis (longtemps|des (jours|semaines|mois))|alors qu'\w+|alors que|apparemment|le tour de|au telephone", -0.5),
        (r"merci(?! (d'avance|par avance))|remercie\w*|je vous remercie|top|parfait\w*|super|genial\w*|excellent\w*|bravo", 0.7),
        (r"rapide\w*|efficace\w*|sympa|gentil\w*|agreable\w*|aimable\w*|adore|j'adore|impeccable", 0.6),
        (r"fait vite|sauve\w*|au top|nickel|canon|ravi\w*|content\w*|satisfait\w*|de rien", 0.6),
        (r"pas decu\w*|je (vous )?recommande|chapeau|c'est donne|pas cher|bon rapport", 1.2),
        (r"on me reclame|une seule|un seul|la moitie|on m'a (livre|envoye|facture|preleve|debite)|estimation|estime\w*", -0.5),
        (r"se coupe|coupe toutes|balance\w*|jete\w*|raye\w*|mauvais\w*|refuse\w*|rejete\w*|j'ai du (racheter|payer|repayer)", -0.6),
    ],
}
# fmt: on
# Exasperation ("??", an angry emoji) is no complaint beside praise ("arrived next day. how?? amazing");
# sarcasm (🙃, scare quotes: "the 'fast' delivery") is one even there.
MARKS = (re.compile(r"\?\?+|😑|😤|😡|🤬|🙄|😒|😠|🤦"), -0.5)
SARCASM = (re.compile(r"🙃|(?<![\w'])'[a-z][\w ]{0,30}'(?!\w)"), -0.5)  # a complaint even beside praise
# Positive cues that still count after a complaint in the same message: the problem is solved.
RESOLVED: dict[str, str] = {
    "en": r"fixed(?! (tariff|price|rate|term|fee|amount|plan|income|address|date))|sorted|resolved|solved|"
    r"works (now|again|fine|perfectly)|now (it )?works|turned it around|credited|found the (problem|issue|bug)|"
    r"thanks? (you )?for (refunding|sorting|fixing|letting|helping|chasing|the refund|resolving|getting back|waiving)|"
    r"working (now|again)|worked|arrived (today|early|safely|on time|at last|finally|yesterday)|got it|"
    r"received it|all good|back (up|online|to normal)|refund (came|arrived|received)|came through|"
    r"replaced the|repaired|(way|much|so much|loads|a lot) better|better now|"
    r"no more (crash\w*|lag\w*|errors?|bugs?|glitch\w*|delays?|issues?|problems?|buffering|dropouts?|waiting|queues?)|"
    r"no longer (crash\w*|lag\w*|drops?)|(with|and) no (lag|crash\w*|errors?|delays?|buffering|dropouts?)|"
    r"no (hassle|fuss|drama)",
    "fr": r"resolu\w*|regle\w*|ca marche|ca fonctionne|c'est bon|bien recu|c'est arrive|enfin|corrige\w*|"
    r"repare\w*|retabli\w*|m'a rembourse\w*|a ete rembourse\w*|rembourse\w* les frais|"
    r"debloque\w*|rembourse\w* (bien )?recu|(colis|commande) (bien )?(recu|arrive)\w*",
}
RESOLVED_WEIGHT = 0.7
# Greetings and courtesies the general lexicon would read as praise ("good morning", "thanks in
# advance"): left out before it reads.
GREETINGS: dict[str, re.Pattern[str]] = {
    "en": re.compile(
        r"\bgood (morning|afternoon|evening|day|night)\b|\bthank(s| you) in advance\b", re.IGNORECASE
    ),
    "fr": re.compile(r"\bbonne (journee|soiree|nuit)\b|\bmerci (d['\u2019]avance|par avance)", re.IGNORECASE),
}
# Words after which a new clause overrides the tone of the one before.
CONTRAST: dict[str, str] = {
    "en": r"but|however|though|although|and yet|except|unfortunately|sadly",
    "fr": r"mais|pourtant|cependant|toutefois|malheureusement|sauf que|par contre",
}
# The customer's own mistake ("I ordered the wrong size by mistake", "je me suis trompee de taille"): the
# message asks for a change, it does not complain, so the problems it names ("wrong", "locked out") do not
# count (only the strong words, weight -0.8 or below, still do).
OWN: dict[str, str] = {
    "en": r"(i|i've) (ordered|picked|chose|bought|selected|entered|booked|typed) the wrong|by mistake|"
    r"my (own )?(mistake|fault)|my bad|by accident|accidentally|myself|i forgot|i've forgotten|forgot my",
    "fr": r"par erreur|je me suis trompe\w*|ma faute|de ma faute|j'ai oublie|par megarde",
}


class Cue(NamedTuple):
    """One cue found in a message: where it starts, its weight, and whether it says a problem is solved.
    (A tuple: a message makes a few of them, ingestion makes them by the million.)"""

    at: int
    weight: float
    resolves: bool
    mark: bool = False  # "??", an angry emoji, scare quotes: exasperation, not a problem named
    own: bool = False  # the customer's own mistake (OWN): weight 0, its message asks for a change


@dataclass(frozen=True)
class Pattern:
    """One alternative of a cue line, compiled, with its weight."""

    regex: re.Pattern[str]
    weight: float
    resolves: bool = False
    line: int = -1  # the cue line it is an alternative of: one line counts once at one place
    own: bool = False  # an OWN cue


@dataclass(frozen=True, eq=False)
class CueSet:
    """The compiled cues of one language, indexed by the letters their words start with.

    Each alternative of a cue line is a pattern of its own, tried only where a word of the message starts
    as the pattern's first word does ("still (no|not…)" only at words starting "still"): a message is
    matched by the few patterns that can match, where they can, not scanned by all of them (4x faster).
    A first word that is a whole word in the pattern ("i" in "i was (in|home)") is tried only at that
    word, not at every word it begins ("it", "is"); one that may go on ("refus" in "refus\\w+") at every
    word it begins. Patterns whose first word cannot be told (an optional start) scan every message.
    """

    patterns: tuple[Pattern, ...]
    by_first: dict[str, tuple[int, ...]]  # the literal start of a pattern -> the patterns' indexes
    by_word: dict[str, tuple[int, ...]]  # a first word that is a whole word -> the patterns' indexes
    always: tuple[Pattern, ...]
    contrast: re.Pattern[str]
    longest: int  # the longest literal start
    _candidates: dict[str, tuple[int, ...]] = field(default_factory=dict)  # word -> pattern indexes

    def find(self, folded: str) -> list[Cue]:
        """The cues in `folded` text (see `fold`), in order.

        Where a cue lies inside a longer cue of the opposite sign, the longer one is the reading and the
        shorter is dropped: "no more crashes" is praise, not a crash; "can't fault", "would order again",
        "thanks for nothing" say what they say as a whole."""
        found: list[Cue] = []
        spans: list[tuple[int, int, float]] = []  # (start, end, weight) of the words' cues, for overlaps
        seen: set[tuple[int, int]] = set()
        starts = _WORD.finditer(folded)
        if "'" in folded:  # French elides ("l'erreur", "d'attente"): a cue may start after an apostrophe
            starts = [*starts, *_ELIDED.finditer(folded)]
        known, patterns = self._candidates, self.patterns
        for match in starts:
            word = match.group(match.lastindex or 0)
            at = match.start(match.lastindex or 0)
            indexes = known.get(word)
            if indexes is None:
                indexes = self._remember(word)
            for index in indexes:
                pattern = patterns[index]
                if (at, pattern.line) in seen:
                    continue
                matched = pattern.regex.match(folded, at)
                if matched is None:
                    continue
                seen.add((at, pattern.line))
                if pattern.own:
                    found.append(Cue(at, 0.0, False, own=True))
                    continue
                if pattern.weight > 0 and _NEGATED.search(folded, 0, at):  # "not impressed"
                    found.append(Cue(at, -NEGATED_SHARE * pattern.weight, False))
                else:
                    found.append(Cue(at, pattern.weight, pattern.resolves))
                spans.append((at, matched.end(), found[-1].weight))
        if len(spans) > 1:
            found = _longest_readings(found, spans)
        found += [
            Cue(match.start(), pattern.weight, pattern.resolves)
            for pattern in self.always
            for match in pattern.regex.finditer(folded)
        ]
        marks, weight = MARKS
        found += [Cue(match.start(), weight, False, mark=True) for match in marks.finditer(folded)]
        sarcasm, weight = SARCASM
        found += [Cue(match.start(), weight, False) for match in sarcasm.finditer(folded)]
        amounts = [match.start() for match in _AMOUNT.finditer(folded)]
        if len(amounts) >= 2:  # two sums set side by side: what was charged against what was due
            found.append(Cue(amounts[0], AMOUNTS_WEIGHT, False))
        return sorted(found)

    def _remember(self, word: str) -> tuple[int, ...]:
        """The indexes of the patterns whose literal start `word` begins with, remembered: support traffic
        repeats its vocabulary (forgotten all at once past 100,000 words)."""
        if len(self._candidates) >= 100_000:
            self._candidates.clear()
        found: dict[int, None] = dict.fromkeys(self.by_word.get(word, ()))
        for end in range(1, min(len(word), self.longest) + 1):
            found.update(dict.fromkeys(self.by_first.get(word[:end], ())))
        self._candidates[word] = indexes = tuple(found)
        return indexes

    def clause_starts(self, folded: str) -> list[int]:
        """Where each clause after a contrast word starts."""
        return [match.start() for match in self.contrast.finditer(folded)]


def _longest_readings(found: list[Cue], spans: list[tuple[int, int, float]]) -> list[Cue]:
    """`found` without the cues lying inside a longer cue of the opposite sign (`spans`: each word cue's
    start, end and weight, in the order found)."""
    dropped = {
        (at, weight)
        for at, end, weight in spans
        for other_at, other_end, other in spans
        if other * weight < 0 and other_at <= at and end <= other_end and other_end - other_at > end - at
    }
    if not dropped:
        return found
    return [cue for cue in found if (cue.at, cue.weight) not in dropped]


_WORD = re.compile(r"[\w']+")
_AMOUNT = re.compile(r"[£$€]\s?\d|\b\d+(?:[.,]\d\d)?\s?(?:€|eur\b|euros?\b|zl\b|zloty)")
AMOUNTS_WEIGHT = -0.5
_ELIDED = re.compile(r"'([\w']+)")
NEGATED_SHARE = 0.5  # a positive cue after "not" counts half its weight, negative (as TextBlob does)
# ends "not ", "haven't ": the next cue is negated
_NEGATED = re.compile(r"(?:\b(?:not|never|isnt|wasnt|havent|hasnt|didnt|dont|doesnt)|n't)\s+$")


_LITERAL = re.compile(r"[a-z0-9']+")


def _alternatives(fragment: str) -> list[str]:
    """The top-level alternatives of a regex fragment: "a|b(c|d)" -> ["a", "b(c|d)"]."""
    parts, depth, current = [], 0, []
    for char in fragment:
        depth += (char == "(") - (char == ")")
        if char == "|" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    return [*parts, "".join(current)]


def _closing(text: str) -> int:
    """Where the parenthesis opening `text` closes."""
    depth = 0
    for at, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if depth == 0:
            return at
    raise ValueError(f"unbalanced cue pattern: {text!r}")


def _first_words(alternative: str, after: str = "") -> set[tuple[str, bool]] | None:
    """The literal starts a match of `alternative` (followed by `after`) can begin with, each with whether
    it is a whole word ("(doesn't|dont) work" -> {("doesn't", True), ("dont", True)}; "refus\\w+" ->
    {("refus", False)}), or None when they cannot be told (an optional or non-literal start)."""
    if alternative.startswith(("(?<!", "(?<=")):  # a lookbehind reads no word: the start is after it
        return _first_words(alternative[_closing(alternative) + 1 :], after)
    if alternative.startswith("\\d"):  # a number: any digit starts it
        return {(digit, False) for digit in "0123456789"}
    if alternative.startswith("(?:"):
        alternative = "(" + alternative[3:]
    if alternative.startswith("("):
        end = _closing(alternative)
        if alternative[end + 1 : end + 2] in ("?", "*"):
            return None
        starts: set[tuple[str, bool]] = set()
        for inner in _alternatives(alternative[1:end]):
            words = _first_words(inner, alternative[end + 1 :] + after)
            if words is None:
                return None
            starts |= words
        return starts
    literal = _LITERAL.match(alternative)
    if literal is None:
        return None
    word = literal.group(0)
    rest = alternative[len(word) :]
    if rest[:1] in ("?", "*", "{"):
        word, whole = word[:-1], False  # "i'?m": the last letter is optional
    else:
        whole = _ends_word(rest + after)
    return {(word, whole)} if word else None


_LOOKAROUND = re.compile(r"\(\?<?[=!]")


def _ends_word(rest: str) -> bool:
    """Whether a pattern's word ends where `rest` (the pattern after it) starts: nothing but lookarounds
    before the pattern's end, a space or a \\s (the pattern ends with "(?![\\w'])", see `_words`)."""
    while _LOOKAROUND.match(rest):
        rest = rest[_closing(rest) + 1 :]
    return rest == "" or rest.startswith((" ", "\\s"))


# Apostrophes and quotation marks straightened into "'": a complaint quotes the status it is stuck at
# (still "processing", the "fast" delivery), read as scare quotes (SARCASM).
_APOSTROPHES = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "`": "'",
        '"': "'",
        "\u201c": "'",
        "\u201d": "'",
        "\u00ab": "'",
        "\u00bb": "'",
    }
)


def fold(text: str) -> str:
    """`text` as cues are matched: lowercased, apostrophes and quotation marks straightened, accents
    folded."""
    from storage.language import strip_accents

    return strip_accents(text.lower().translate(_APOSTROPHES))


def _words(fragment: str) -> re.Pattern[str]:
    """The fragment as a pattern matching whole words only."""
    return re.compile(rf"(?<!\w)(?:{fragment})(?![\w'])")


@functools.cache
def compiled(lang: str) -> CueSet | None:
    """The cues of `lang`, compiled once; None for a language without cues."""
    if lang not in CUES:
        return None
    lines = [(fragment, weight, False, False) for fragment, weight in CUES[lang]]
    lines.append((RESOLVED[lang], RESOLVED_WEIGHT, True, False))
    lines.append((OWN[lang], 0.0, False, True))
    patterns: list[Pattern] = []
    by_first: dict[str, list[int]] = {}
    by_word: dict[str, list[int]] = {}
    always: dict[tuple[float, bool], list[str]] = {}
    for line, (fragment, weight, resolves, own) in enumerate(lines):
        for alternative in _alternatives(fragment):
            firsts = _first_words(alternative)
            if not firsts:
                assert not own, f"an OWN cue needs a literal first word: {alternative!r}"
                always.setdefault((weight, resolves), []).append(alternative)
                continue
            patterns.append(Pattern(_words(alternative), weight, resolves, line, own))
            for first, whole in firsts:
                (by_word if whole else by_first).setdefault(first, []).append(len(patterns) - 1)
    return CueSet(
        patterns=tuple(patterns),
        by_first={first: tuple(indexes) for first, indexes in by_first.items()},
        by_word={word: tuple(indexes) for word, indexes in by_word.items()},
        # the patterns without a literal start, one scan per weight
        always=tuple(
            Pattern(_words("|".join(f"(?:{a})" for a in alternatives)), weight, resolves)
            for (weight, resolves), alternatives in always.items()
        ),
        contrast=_words(CONTRAST[lang]),
        longest=max(map(len, by_first)),
    )
