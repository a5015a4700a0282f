"""What inbound messages are about: a topic taxonomy matched at ingestion, key phrases for the rest.

Both work per language: words are lowercased, accents folded ("é" -> "e", "ł" -> "l", "ß" -> "ss"), then
reduced to their Snowball stem in the message's language (`snowballstemmer`), keywords with the same
language's stemmer, so "livraisons" matches "livraison" and "zamowienia" matches "zamówienie".
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

import snowballstemmer

from storage.language import STOP_WORDS, strip_accents

# The languages the built-in taxonomy has keywords for; any other language (and "und") is matched
# with the English keywords and stemmer.
LANGUAGES = ("en", "fr", "de", "es", "pl")
# Snowball stemmer per language detect_language returns; key phrases are read in all of these.
_STEMMER_NAMES = {
    "en": "english",
    "fr": "french",
    "de": "german",
    "es": "spanish",
    "pl": "polish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
}

# topic -> subtopic -> language -> keywords and phrases. Inflections need not be listed when their Snowball
# stems agree ("livraisons" = "livraison"); they must when they do not (English "delivery" and
# "delivered", German "Lieferung" and "geliefert"). A user's `topics:` setting may give a plain list
# instead of the language mapping: its keywords are then matched in every language.
DEFAULT_TAXONOMY: dict[str, dict[str, dict[str, list[str]]]] = {
    "delivery": {
        "status": {
            "en": ["delivery", "deliver", "delivered", "shipping", "shipped", "shipment", "dispatch",
                   "dispatched", "in transit", "eta", "out for delivery", "parcel", "package", "locker",
                   "preparing", "awaiting collection", "tracker", "meal kit arrived", "box arrived",
                   # 2026-12-06 (sixth batch)
                   "warehouse", "click and collect", "being traced"],
            "fr": ["livraison", "livrer", "livré", "livrez", "livrée", "expédition", "expédié", "expédiée",
                   "colis", "acheminement", "en transit", "envoi du colis", "colis envoyé", "expédiés",
                   # 2026-12-06 (seventh batch)
                   "paquet", "paquets", "expédiez", "envois vers", "faites des envois",
                   # 2026-12-06 (eighth batch)
                   "expédier", "entrepôt", "centre de tri", "recevoir ma commande", "arrivé en avance",
                   "arrivée en avance", "reçu en avance", "envoyez jusqu'en", "envoyez en"],
            "de": ["Lieferung", "liefern", "geliefert", "Versand", "versenden", "versendet", "verschickt",
                   "Paket", "Sendung", "zugestellt", "Zustellung", "angekommen", "Lieferzeit"],
            "es": ["envío", "enviar", "enviado", "entrega", "entregado", "entregar", "paquete", "en camino",
                   "en tránsito"],
            "pl": ["dostawa", "dostarczenie", "dostarczona", "dostarczony", "dostarczyć", "przesyłka",
                   "paczka", "wysyłka", "wysłana", "wysłane", "dotarła", "dotarło", "w drodze"],
        },
        "late": {
            "en": ["late", "delay", "delayed", "overdue", "not arrived", "hasn't arrived", "not delivered",
                   "where is my order", "where is my parcel", "where is my package", "where's my order",
                   "where's my parcel", "where's my package", "isn't here", "not here yet",
                   "still waiting for my order", "still waiting for the parcel",
                   # 2026-12-06 (sixth batch): an order that was due
                   "hasn't come", "come yet", "meant to come", "supposed to come", "supposed to be here"],
            "fr": ["retard", "en retard", "pas arrivé", "pas reçu", "toujours pas reçu",
                   "où est mon colis", "où est ma commande", "attendue", "délai de livraison",
                   "délais de livraison",
                   # 2026-12-06 (seventh batch)
                   "pas arrivée",
                   # 2026-12-06 (eighth batch)
                   "attends ma commande", "attends toujours ma commande", "attendons notre commande"],
            "de": ["Verspätung", "verspätet", "überfällig", "verschoben", "noch nicht angekommen",
                   "noch nicht da", "nicht angekommen", "wo ist mein Paket", "wo bleibt"],
            "es": ["retraso", "retrasado", "no ha llegado", "no llega", "todavía no llega",
                   "dónde está mi pedido", "dónde está mi paquete"],
            "pl": ["opóźnienie", "opóźniona", "opóźnione", "spóźnione", "spóźniona", "nie dotarła",
                   "nie doszła", "gdzie jest moja paczka", "gdzie jest moje zamówienie"],
        },
        "lost": {
            "en": ["lost", "missing", "never arrived", "never received", "not received", "stolen",
                   "never turned up", "never came",
                   # 2026-12-06 (sixth batch): a wrong or short parcel
                   "only one of", "in the box", "wrong colour", "wrong color", "someone else's order",
                   "someone else's parcel", "someone else's package"],
            "fr": ["perdu", "égaré", "manquant", "jamais reçu", "jamais arrivé", "volé", "disparu",
                   # 2026-12-06 (sixth batch): un colis faux ou incomplet
                   "mauvaise taille", "dans le carton", "dans la boîte", "éventré", "en morceaux",
                   # 2026-12-06 (seventh batch)
                   "égarée", "jamais arrivée", "volée", "éventrée", "reçu qu'un", "reçu qu'une",
                   "un seul des", "une seule des", "la moitié des", "mauvaise couleur", "mauvais article",
                   "mauvais produit", "mauvais modèle", "avais commandé", "reçu une taille",
                   "reçu le mauvais", "reçu la mauvaise",
                   # 2026-12-06 (eighth batch)
                   "dans ma boîte", "pas ce que j'ai commandé", "pas le bon article", "pas la bonne taille",
                   "mauvaise pointure", "mauvais coloris", "erreur de colis", "erreur de préparation"],
            "de": ["verloren", "fehlt", "verschwunden", "nie angekommen", "nicht erhalten", "gestohlen"],
            "es": ["perdido", "extraviado", "nunca llegó", "no he recibido", "falta", "robado"],
            "pl": ["zaginęła", "zaginiona", "zgubił", "zgubiona", "zgubili", "nie otrzymałem",
                   "nie otrzymałam", "brakuje"],
        },
        "tracking": {
            "en": ["tracking", "track", "tracking number", "tracking link"],
            "fr": ["suivi", "numéro de suivi", "tracking"],
            "de": ["Sendungsverfolgung", "Sendungsnummer", "Tracking", "Trackingnummer"],
            "es": ["seguimiento", "número de seguimiento", "tracking"],
            "pl": ["śledzenie", "numer przesyłki", "numer śledzenia", "tracking"],
        },
        "damaged": {
            "en": ["damaged", "crushed", "dented", "smashed", "arrived broken", "arrived opened"],
            "fr": ["abîmé", "endommagé", "écrasé", "arrivé cassé",
                   # 2026-12-06 (seventh batch)
                   "abîmée", "endommagée", "écrasée", "arrivée cassée", "trempé", "trempée", "mouillé",
                   "mouillée",
                   # 2026-12-06 (eighth batch)
                   "cabossé", "cabossée", "arrivé enfoncé", "arrivée enfoncée", "en miettes",
                   "carton déchiré", "emballage déchiré", "colis déchiré", "colis ouvert", "carton ouvert",
                   "détrempé", "détrempée"],
            "de": ["beschädigt", "zerdrückt", "kaputt angekommen", "eingedrückt"],
            "es": ["dañado", "llegó roto", "aplastado", "mojado"],
            "pl": ["uszkodzona", "uszkodzone", "uszkodzony", "zgnieciona"],
        },
        "address": {
            "en": ["delivery address", "shipping address", "wrong address", "change address",
                   "change my address"],
            "fr": ["adresse de livraison", "adresse"],
            "de": ["Lieferadresse", "Adresse", "Anschrift"],
            "es": ["dirección de entrega", "dirección de envío", "dirección"],
            "pl": ["adres dostawy", "adres"],
        },
        "courier": {
            "en": ["courier", "driver", "postman", "carrier", "pickup point", "pick up my order",
                   "collect my parcel", "signature", "neighbour", "left outside"],
            "fr": ["livreur", "transporteur", "facteur", "point relais", "la poste", "retirer ma commande",
                   "voisin",
                   # 2026-12-06 (seventh batch)
                   "casier",
                   # 2026-12-06 (eighth batch)
                   "livreuse", "relais", "avis de passage", "chronopost", "colissimo", "mondial relay", "dhl",
                   "dpd", "gls", "fedex", "devant la porte", "devant ma porte", "boîte aux lettres",
                   "dessus le portail", "dessus mon portail", "devant le portail", "digicode"],
            "de": ["Bote", "Zusteller", "Kurier", "Paketdienst", "Packstation", "Nachbar", "Nachbarn", "DHL",
                   "Hermes"],
            "es": ["repartidor", "mensajero", "transportista", "correos", "punto de recogida", "recoger"],
            "pl": ["kurier", "listonosz", "paczkomat", "inpost", "punkt odbioru"],
        },
    },
    "refund": {
        "request": {
            "en": ["refund", "refunded", "money back", "reimburse", "reimbursement", "credited back",
                   # 2026-12-06 (sixth batch)
                   "back on my card", "back to my card", "deposit back"],
            "fr": ["remboursement", "rembourser", "remboursé", "argent",
                   # 2026-12-06 (seventh batch)
                   "remboursée", "recrédité", "recréditée", "recrédités", "revenus sur ma carte",
                   "revenu sur ma carte", "revenu sur mon compte", "revenus sur mon compte",
                   # 2026-12-06 (eighth batch)
                   "un avoir", "mon avoir", "cet avoir", "d'un avoir", "mes sous", "recréditer"],
            "de": ["Rückerstattung", "erstatten", "Erstattung", "erstattet", "Geld zurück", "Geld"],
            "es": ["reembolso", "reembolsar", "devuelvan el dinero", "devolver el dinero", "dinero"],
            "pl": ["zwrot pieniędzy", "pieniądze", "pieniędzy", "zwrot środków"],
        },
        "return": {
            "en": ["return", "returned", "returning", "send back", "sent back", "return label", "exchange",
                   "exchanged", "swap"],
            "fr": ["retour", "retourner", "renvoyer", "échanger", "échange", "étiquette retour",
                   # 2026-12-06 (seventh batch)
                   "renvoyé", "renvoyée", "retournée", "échangée", "colis retour",
                   # 2026-12-06 (eighth batch)
                   "rétractation", "rendre l'article", "rendre un article", "rendre le produit",
                   "rapporter en magasin", "rapporter en boutique", "rapporter sans ticket",
                   "rapporter l'article", "rapporter un article"],
            "de": ["Rücksendung", "zurücksenden", "zurückschicken", "Retoure", "Umtausch", "umtauschen",
                   "Rückgabe"],
            "es": ["devolución", "devolver", "devolví", "devuelto", "cambiar el producto",
                   "etiqueta de devolución"],
            "pl": ["zwrot", "zwrócić", "zwróciłem", "zwróciłam", "odesłać", "wymiana", "wymienić"],
        },
    },
    "billing": {
        "double charge": {
            "en": ["double charged", "charged twice", "duplicate charge", "two charges", "charged two times",
                   "taken twice", "debited twice"],
            "fr": ["prélevé deux fois", "débité deux fois", "facturé deux fois", "double prélèvement",
                   # 2026-12-06 (seventh batch)
                   "prélevée deux fois", "débitée deux fois", "facturée deux fois", "deux débits",
                   "deux prélèvements",
                   # 2026-12-06 (eighth batch)
                   "prélevé 2 fois", "débité 2 fois", "facturé 2 fois", "prélevée 2 fois", "débitée 2 fois",
                   "facturée 2 fois", "payé deux fois", "payé 2 fois", "pris deux fois", "pris 2 fois",
                   "paiement en double", "prélèvement en double", "débit en double", "facturé en double"],
            "de": ["doppelt abgebucht", "zweimal abgebucht", "doppelt berechnet", "doppelte Abbuchung"],
            "es": ["cobrado dos veces", "cobro duplicado", "cargo duplicado", "dos cargos"],
            "pl": ["dwa razy opłatę", "pobraliście dwa razy", "pobrano dwa razy", "podwójna opłata"],
        },
        "wrong charge": {
            "en": ["charge", "charged", "charges", "overcharged", "overcharge", "wrong charge",
                   "wrong amount", "unexpected charge", "incorrect charge",
                   # 2026-12-06: a fee charged is on the bill (a fee asked about before is pricing's)
                   "fee", "fees"],
            "fr": ["prélevé", "prélèvement", "débité", "facturé",
                   # 2026-12-06 (seventh batch): "montant" alone stems as "monte" does ("monte le son")
                   "le montant", "un montant", "ce montant", "du montant", "des montants", "les montants",
                   "montant de", "montant du", "mauvais montant",
                   "prélevée", "débitée", "facturée", "me réclame", "me réclamez", "me réclament",
                   "frais de dossier", "frais bancaires", "frais de gestion",
                   # 2026-12-06 (eighth batch)
                   "débit", "débits", "encaissé", "encaissée", "encaisser", "encaissement",
                   "échéance", "impayé", "impayée", "impayés", "recouvrement", "virement"],
            "de": ["abgebucht", "Abbuchung", "belastet", "berechnet", "Betrag"],
            "es": ["cobro", "cobrado", "cobrar", "cobran", "cobrando", "cargo", "importe"],
            "pl": ["pobraliście", "pobrali", "pobrano", "obciążenie", "obciążyli", "kwota", "kwotę"],
        },
        "invoice": {
            "en": ["invoice", "bill", "billed", "billing", "statement", "bills", "meter", "meter reading",
                   "meter readings", "payout"],
            "fr": ["facture", "factures", "facturation",
                   # 2026-12-06 (seventh batch)
                   "relevé", "compteur", "index"],
            "de": ["Rechnung", "Rechnungen", "Mahnung"],
            "es": ["factura", "facturas"],
            "pl": ["faktura", "fakturę", "faktury", "rachunek"],
        },
        "payment": {
            "en": ["payment", "card declined", "credit card", "debit card", "direct debit", "paypal",
                   "credit", "owe", "pay by", "pay with", "pay in", "trying to pay",
                   # ("instalments" alone stems as "install" does: "in instalments" is the payment)
                   "in instalments", "in installments", "instalment plan", "monthly instalments",
                   # 2026-12-06
                   "pay", "my card", "still paying", "paying for", "apple pay", "google pay", "klarna",
                   "unpaid", "cashback", "top up", "topped up", "funds",
                   # 2026-12-06 (sixth batch): money taken
                   "taking money", "took the money", "took money", "money leaving", "money left",
                   "money's gone", "money gone", "still being taken"],
            "fr": ["paiement", "carte bancaire", "carte refusée", "paypal", "payer par", "payer en",
                   # 2026-12-06 (seventh batch)
                   "rib", "compte bancaire", "compte en banque",
                   # 2026-12-06 (eighth batch)
                   "en 3 fois", "en trois fois", "en 4 fois", "en quatre fois", "en 10 fois",
                   "en plusieurs fois", "ma carte", "ma nouvelle carte", "ma cb", "par cb", "la cb",
                   "carte bleue", "iban", "coordonnées bancaires", "apple pay", "google pay", "paylib",
                   "transaction"],
            "de": ["Zahlung", "zahlen", "bezahlen", "Lastschrift", "Kreditkarte", "PayPal", "Gutschrift"],
            "es": ["pago", "pagar", "tarjeta de crédito", "domiciliación", "bizum", "paypal"],
            "pl": ["płatność", "płatności", "płacić", "zapłacić", "blik", "przelew", "karta kredytowa"],
        },
    },
    "account": {
        "login": {
            "en": ["login", "log in", "log into", "logged into", "sign in", "signin", "logged out", "account",
                   "username", "email address",
                   # 2026-12-06 (sixth batch)
                   "profile", "pin", "security code", "id check", "points balance", "kyc"],
            "fr": ["compte", "connexion", "connecter", "identifiant", "identifiants", "espace client",
                   # 2026-12-06 (seventh batch)
                   "loguer", "login", "profil",
                   # 2026-12-06 (eighth batch)
                   "mon espace", "votre espace", "notre espace", "espace perso", "espace personnel",
                   "espace membre", "empreinte digitale", "face id", "reconnaissance faciale", "biométrie",
                   "pseudo", "nom d'utilisateur"],
            "de": ["Konto", "Kundenkonto", "anmelden", "Anmeldung", "einloggen", "Login", "Benutzername"],
            "es": ["cuenta", "iniciar sesión", "acceder", "usuario"],
            "pl": ["konto", "zalogować", "zalogowac", "logowanie", "login"],
        },
        "password": {
            "en": ["password", "passcode"],
            "fr": ["mot de passe", "mdp", "réinitialiser",
                   # 2026-12-06 (eighth batch)
                   "code secret", "code pin", "code d'accès"],
            "de": ["Passwort", "Kennwort"],
            "es": ["contraseña", "restablecer"],
            "pl": ["hasło", "zresetować", "zresetowac"],
        },
        "locked": {
            "en": ["locked out", "account locked", "blocked", "suspended", "banned", "hacked"],
            "fr": ["compte bloqué", "suspendu", "piraté", "débloqué",
                   # 2026-12-06 (seventh batch)
                   "piratée", "débloquée", "verrouillé", "verrouillée",
                   # 2026-12-06 (eighth batch)
                   "désactivé mon compte", "compte désactivé", "compte a été désactivé",
                   "accès bloqué", "accès a été bloqué", "accès refusé", "plus accès à mon",
                   "plus accès à ma", "perdu l'accès", "récupérer l'accès", "récupérer mon compte", "hacké",
                   "hackée", "usurpation", "appareil inconnu", "activité suspecte", "connexion suspecte"],
            "de": ["gesperrt", "entsperrt", "gehackt"],
            "es": ["bloqueado", "bloqueada", "bloquear", "hackeado", "suspendida"],
            "pl": ["zablokowane", "zablokowali", "zablokowano", "odblokowane", "odblokować"],
        },
        "2fa": {
            "en": ["2fa", "two factor", "verification code", "verification email", "login code", "otp",
                   "authentication code"],
            "fr": ["authentification", "code de vérification", "code sms", "double authentification",
                   # 2026-12-06 (seventh batch)
                   "code à 6 chiffres", "code de confirmation", "code de sécurité", "code par sms",
                   "sms avec le code", "validation en deux étapes", "double facteur",
                   # 2026-12-06 (eighth batch)
                   "code de validation", "code par texto", "sms de validation", "sms de confirmation",
                   "texto de confirmation", "code à usage unique", "authentifier"],
            "de": ["Zwei-Faktor", "Authentifizierung", "Bestätigungscode", "Verifizierung"],
            "es": ["verificación", "código de verificación", "dos factores", "doble factor"],
            "pl": ["weryfikacja", "kod sms", "kod weryfikacyjny", "dwuetapowa", "dwuskładnikowe"],
        },
    },
    "defect": {
        "broken": {
            "en": ["broken", "broke", "cracked", "faulty", "defective", "fault", "leaking", "leak",
                   # 2026-12-06: what a broken thing does or looks like
                   "breaks", "snapped", "came off", "fell off", "falling apart", "peeling", "buzzing",
                   "grinding", "noise", "flickers", "flickering", "sparks", "died", "drains", "overheating",
                   "out of order", "chipped", "battery lasts", "battery problem", "battery drain",
                   "battery life", "paper jam", "no ink",
                   # 2026-12-06 (sixth batch): torn, split, swollen, noisy, dripping, hot, weak
                   "ripped", "tore", "torn", "came apart", "unravelling", "unravelled", "fraying", "frayed",
                   "shattered", "bulging", "swollen", "seam", "seams", "stitching", "pilling", "faded",
                   "shrunk", "shrank", "drips", "dripping", "gets hot", "getting hot", "really hot",
                   "too hot", "suction", "dead pixels", "green line", "loses", "packed in", "sagging", "sags",
                   "colour ran", "slips", "don't line up", "doesn't line up"],
            "fr": ["cassé", "en panne", "panne", "défectueux", "défectueuse", "fissuré", "fuit", "fuite",
                   # 2026-12-06 (seventh batch)
                   "cassée", "fissurée", "grésille", "grésillement", "non conforme", "pas conforme",
                   "décongelé", "ne congèle plus", "dysfonctionnement",
                   # 2026-12-06 (eighth batch)
                   "hs depuis", "complètement hs", "totalement hs", "hors service", "hors d'usage",
                   "défaillant", "défaillante", "défaillance", "défaut", "défauts", "vice caché", "malfaçon",
                   "problème technique", "problèmes techniques", "souci technique", "soucis techniques",
                   "déchiré", "déchirée", "déchirés", "déchirées", "troué", "trouée", "décousu", "décousue",
                   "se découd", "bouloche", "boulochent", "déteint", "décoloré", "décolorée", "rétréci",
                   "rétrécie", "se détache", "s'est détaché", "s'est détachée", "arraché", "arrachée",
                   "s'arrache", "a lâché", "ont lâché", "fendu", "fendue", "ébréché", "ébréchée", "tordu",
                   "tordue", "rouillé", "rouillée", "rouille", "périmé", "périmée",
                   "rayure", "craquelé", "craquelée", "coule", "de l'eau partout", "étincelles", "fumée",
                   "fume", "odeur de brûlé", "sent le brûlé", "court-circuit", "disjoncte", "surchauffe",
                   "chauffe énormément", "chauffe trop", "chauffe beaucoup", "lignes vertes", "ligne verte",
                   "lignes sur l'écran", "bandes sur l'écran", "pixels morts", "pixel mort",
                   "tache sur l'écran", "image floue", "photos floues", "photo floue", "photo flou", "bruit",
                   "bruits", "bruyant", "bruyante", "clignote rouge", "clignote en rouge", "clignote orange",
                   "clignote en orange", "scintille", "batterie tient",
                   "batterie ne tient", "batterie se vide", "se vide en", "se décharge", "autonomie",
                   "batterie gonflée", "tient pas la charge", "tient plus la charge", "est mort", "est morte",
                   "rendu l'âme", "a claqué", "a grillé", "est grillé", "est grillée", "est foutu",
                   "est fichu", "en rade"],
            "de": ["kaputt", "defekt", "Defekt", "Störung", "undicht", "gerissen"],
            "es": ["roto", "rota", "averiado", "avería", "defectuoso", "no aguanta"],
            "pl": ["zepsuty", "zepsuta", "zepsuło", "awaria", "usterka", "wadliwy", "wadliwa", "pęknięty"],
        },
        "not working": {
            "en": ["not working", "stopped working", "doesn't work", "does not work", "isn't working",
                   "won't turn on", "won't charge", "won't pair", "won't connect", "dead", "no signal",
                   "no internet", "dropping", "unusable", "outage", "not cooling", "fixed", "repair",
                   "repaired", "engineer", "technician",
                   # 2026-12-06: a thing or a service that does not do its job, or does it again
                   "won't open", "won't unlock", "won't close", "doesn't close", "won't scan", "doesn't scan",
                   "won't print", "hasn't worked", "not cold", "isn't cold", "hot water", "no power",
                   "power cut", "power's back", "is down", "down again", "been down", "servers down",
                   "went down", "only prints", "only plays", "times out", "timed out", "timing out", "fails",
                   "keeps crashing", "buffers", "buffering", "out of sync", "404", "500s", "just reloads",
                   "just spins", "loops back", "wiped", "greyed out", "session expired", "flat tyre",
                   # 2026-12-06 (sixth batch): restarting or dropping by itself, no line, no heat
                   "reboots", "restarts", "resets itself", "itself", "on its own", "won't restart",
                   "won't respond", "doesn't respond", "not responding", "unresponsive", "disconnecting",
                   "disconnects", "disconnected", "cuts out", "cutting out", "won't start", "won't work",
                   "won't lock", "doesn't lock", "won't submit", "won't drain", "no service", "no connection",
                   "dial tone", "no heat", "no heating", "heating off", "not heating", "been off",
                   "gone down", "goes down", "nothing connects", "doesn't connect", "not connecting",
                   "can't connect", "flashing", "flashes", "service unavailable", "temporarily unavailable",
                   "hasn't recorded", "not recording", "won't record", "just refreshes", "keeps refreshing",
                   "doesn't clean", "not cleaning", "internet is back", "internet's back", "wifi is back",
                   "signal is back", "back up and running",
                   # (sounds a thing makes here: "noise" in "broken" is taken back by "noise cancelling")
                   "crackles", "crackling", "whine", "whining", "rattles", "rattling"],
            "fr": ["ne marche pas", "ne marche plus", "ne fonctionne pas", "ne fonctionne plus",
                   "marche pas", "redémarre", "ne s'ouvre plus", "ne s'ouvre pas", "tiennent pas la charge",
                   "ne charge pas", "coupure", "réparé", "technicien",
                   # 2026-12-06
                   "décollé", "décollée", "rayé", "rayée", "se coupe", "échoue", "bourrage", "plus de réseau",
                   "pas de réseau", "plus de 4g", "serveurs", "rétabli", "voyant", "le problème est toujours",
                   "marche toujours pas", "fonctionne toujours pas",
                   # 2026-12-06 (sixth batch): ce qui ne démarre, ne s'allume, ne charge ou ne refroidit plus
                   "ne démarre plus", "ne démarre pas", "s'éteint", "ne s'allume plus", "ne s'allume pas",
                   "impossible de l'allumer", "écran noir", "reste noir", "se ferme toute seule",
                   "se ferme tout seul", "ne refroidit plus", "ne refroidit pas", "ne recharge plus",
                   "ne se recharge plus", "ne charge plus", "perd la connexion", "pas de son", "plus de son",
                   "ne fait rien",
                   # 2026-12-06 (seventh batch)
                   "réparée", "capte plus", "capte pas", "captait", "ne génère plus", "ne marchent plus",
                   "ne marchent pas", "ne fonctionnent plus", "ne fonctionnent pas", "soucis de connexion",
                   "problème de connexion", "problèmes de connexion", "perturbation", "perturbations",
                   "incident",
                   # 2026-12-06 (eighth batch)
                   "marche plus", "marche mal", "marchent mal", "fonctionne plus", "fonctionne pas",
                   "fonctionne mal", "fonctionnent mal", "s'allume plus", "s'allume pas", "démarre plus",
                   "démarre pas", "charge plus", "se charge plus", "charge pas", "rien ne charge",
                   "ne charge rien", "s'ouvre plus", "s'ouvre pas", "s'éteint plus", "ne tourne plus",
                   "tourne plus", "ne ferme plus", "ne se ferme plus", "ne vidange", "vidange plus",
                   "vidange pas", "ne lave plus", "lave plus", "lave mal", "ne sèche plus", "sèche plus",
                   "essore plus", "ne fait plus de froid", "fait plus de froid", "ne chauffe plus",
                   "ne chauffe pas", "chauffe plus", "n'imprime plus", "n'imprime pas", "imprime plus",
                   "imprime pas", "pages blanches", "n'émet plus", "émet plus", "aucun son", "sans son",
                   "aucun signal", "pas de signal", "plus de signal", "plus de tonalité", "pas de tonalité",
                   "plus d'internet", "pas d'internet", "plus de wifi", "pas de wifi", "plus de connexion",
                   "pas de connexion", "aucune connexion", "plus de télé", "plus de tv", "plus de chaînes",
                   "rien ne passe", "rien ne marche", "rien ne fonctionne", "pas d'eau chaude",
                   "plus d'eau chaude", "plus de chauffage", "pas de chauffage", "tout seul", "toute seule",
                   "coupe sans arrêt", "coupe tout le temps", "saute sans arrêt", "image saute", "son saute",
                   "réseau saute", "connexion saute", "wifi saute", "internet saute", "ne se connecte plus",
                   "ne se connecte pas", "se connecte plus", "pas reconnue", "pas reconnu", "plus reconnue",
                   "plus reconnu", "non reconnue", "non reconnu", "écran ne répond", "tactile ne répond",
                   "télécommande ne répond", "manette ne répond", "clavier ne répond", "appli ne répond",
                   "application ne répond", "site ne répond", "touches ne répondent", "boutons ne répondent",
                   "remarche", "refonctionne", "fonctionne à nouveau", "marche à nouveau", "dépannage",
                   "dépanneur", "dépanner", "souci est revenu", "problème est revenu", "inutilisable",
                   "injouable", "instable"],
            "de": ["funktioniert nicht", "geht nicht", "fällt aus", "ausgefallen", "druckt nicht",
                   "startet nicht", "lädt nicht", "repariert", "Techniker"],
            "es": ["no funciona", "no va", "no enciende", "no carga", "se cae", "se reinicia", "arregló",
                   "arreglado", "técnico"],
            "pl": ["nie działa", "przestał działać", "przestała działać", "naprawiony", "naprawione",
                   "naprawa"],
        },
        "bug": {
            "en": ["bug", "glitch", "error", "crash", "crashes", "crashing", "freeze", "frozen",
                   "logs me out", "offline", "unreachable", "double clicks", "went black", "black screen",
                   "orange light", "drops every", "mbps", "something went wrong", "does nothing",
                   "blank page", "blank screen", "under maintenance",
                   "won't accept", "invalid", "lag", "laggy", "not loading", "won't load", "burning",
                   "smells",
                   # 2026-12-06 (sixth batch)
                   "white screen", "goes black", "splash screen", "loading screen", "vanished",
                   "deleted all"],
            "fr": ["bug", "bugue", "beug", "erreur", "plante", "crash",
                   # 2026-12-06 (seventh batch)
                   "se fige", "fige", "figé", "figée", "écran de chargement", "chargement infini",
                   # 2026-12-06 (eighth batch)
                   "bugge", "buggé", "bugué", "beugue", "plantage", "plantages", "rame", "rament", "lag",
                   "lagge", "ralentit", "ralentissements", "freeze", "page blanche", "écran blanc",
                   "écran bleu", "écran bloqué", "bloqué sur l'écran", "bloquée sur l'écran",
                   "bloqué sur le logo", "bloquée sur le logo", "tourne dans le vide", "tourne en boucle",
                   "charge à l'infini", "inaccessible", "indisponible", "hors ligne", "en maintenance",
                   "down", "ne s'affiche plus", "n'affiche plus rien", "n'affiche rien", "ne se synchronise",
                   "synchronise plus", "synchronisation", "appli quitte", "application quitte",
                   "quitte au lancement", "se déconnecte", "déconnecte", "déconnectée", "déconnexion",
                   "déconnexions"],
            "de": ["Fehler", "Fehlermeldung", "Absturz", "stürzt ab", "abgestürzt", "Bug"],
            "es": ["error", "fallo", "falla", "se cierra", "se cuelga", "bug"],
            "pl": ["błąd", "wywala się", "zawiesza się", "crash", "bug"],
        },
    },
    "praise": {
        "thanks": {
            "en": ["thank", "thanks", "thank you", "thx", "ty", "appreciate", "grateful", "cheers", "kudos"],
            "fr": ["merci", "mrc", "remercie", "remerciements"],
            "de": ["danke", "Dank", "dankeschön", "bedanke"],
            "es": ["gracias", "agradezco", "agradecido"],
            "pl": ["dziękuję", "dzięki", "dziekuje", "dzieki", "dziękujemy"],
        },
        "compliment": {
            "en": ["great", "excellent", "amazing", "awesome", "love", "best", "wonderful", "fantastic",
                   "brilliant", "helpful", "well done", "impressed", "happy", "perfect", "perfectly",
                   "lovely", "so friendly", "very friendly", "super friendly", "really friendly", "lifesaver",
                   "recommend", "smooth", "smoothly", "superb",
                   "nice work", "good job", "5 stars", "10 10", "customer for life", "not bad", "legend",
                   "respect", "rock solid", "painless", "nice one", "no complaints", "way better", "spot on",
                   "solved it", "much better", "game changer", "so gentle", "can't fault",
                   # 2026-12-06
                   "decent", "gorgeous", "stunning", "above and beyond", "made my day", "made my week",
                   "you made my", "like a dream", "smoothest", "easiest", "no fuss",
                   "never had a single issue", "never had an issue", "never let me down", "proper service",
                   "top guy", "so careful",
                   # 2026-12-06 (sixth batch)
                   "very kind", "so kind", "really kind", "kind of you", "so sweet"],
            "fr": ["top", "au top", "génial", "super", "parfait", "excellent", "bravo",
                   "recommande", "pas mal", "formidable", "efficace", "sauvez la vie", "rapide",
                   # 2026-12-06 (seventh batch)
                   "adore", "chapeau", "réactivité", "réactif", "réactive", "délicieux", "délicieuse", "joli",
                   "jolie", "magnifique", "adorable", "adorables", "trop gentil", "très gentil",
                   "trop gentille", "très gentille", "nickel", "ravi", "ravie", "impeccable", "merveilleux",
                   # 2026-12-06 (eighth batch)
                   "satisfait", "satisfaite", "satisfaits", "meilleur", "meilleure", "meilleurs",
                   "meilleures", "bien joué", "trop bien", "sympa", "agréable", "aimable", "aimables",
                   "irréprochable", "rien à redire", "félicitations", "félicite", "saluer", "salue",
                   "reconnaissant", "reconnaissante", "aux petits soins", "5 étoiles", "cinq étoiles",
                   "un plaisir", "trop cool", "super cool", "professionnalisme", "très professionnel"],
            "de": ["super", "top", "toll", "klasse", "prima", "spitze", "perfekt", "hervorragend",
                   "freundlich", "hilfreich", "bestens", "zufrieden", "empfehlen", "weiterempfehlen",
                   "nicht schlecht", "schnelle"],
            "es": ["genial", "excelente", "perfecto", "increíble", "estupendo", "maravilla", "amables",
                   "recomiendo", "nada mal", "rapidez", "fenomenal", "encanta"],
            "pl": ["super", "świetnie", "świetna", "świetny", "polecam", "pomocna", "pomocny", "mega",
                   "rewelacja", "ekstra", "idealnie", "wspaniale", "doskonale", "szybka akcja"],
        },
    },
    "pricing": {
        "price": {
            "en": ["price", "prices", "pricing", "expensive", "cost", "costs", "overpriced", "too much",
                   "how much", "cheaper", "price match", "value for money", "price increase", "sale",
                   "price dropped", "tariff", "tariffs", "premium is", "full price", "months free"],
            "fr": ["prix", "tarif", "tarifs", "cher", "trop cher", "coût", "coûte", "hausse", "augmentation",
                   "qualité prix", "combien ça coûte",
                   # 2026-12-06 (seventh batch)
                   "abonnement passe",
                   # 2026-12-06 (eighth batch)
                   "de plus par mois", "euros de plus", "c'est combien"],
            "de": ["Preis", "Preise", "teuer", "zu teuer", "kostet", "Kosten", "Preiserhöhung", "günstiger",
                   "billiger", "Preis-Leistung"],
            "es": ["precio", "precios", "caro", "cuesta", "cuánto cuesta", "coste", "costo", "subida"],
            "pl": ["cena", "ceny", "cenę", "drogo", "drogie", "za drogie", "kosztuje", "koszt", "koszty",
                   "podwyżka", "taniej"],
        },
        "discount": {
            "en": ["discount", "coupon", "promo code", "promo", "voucher code", "discount voucher",
                   "discount code", "special offer", "on offer", "deal"],
            "fr": ["réduction", "réductions", "remise", "promo", "code promo", "soldes", "bon de réduction",
                   "offre",
                   # 2026-12-06 (seventh batch)
                   "coupon", "réduc", "code avantage",
                   # 2026-12-06 (eighth batch)
                   "rabais", "parrainage", "prix réduit", "tarif réduit"],
            "de": ["Rabatt", "Gutschein", "Gutscheincode", "Rabattcode", "Aktion", "Angebot"],
            "es": ["descuento", "descuentos", "cupón", "código promocional", "oferta", "rebajas",
                   "promoción"],
            "pl": ["rabat", "rabatowy", "kod rabatowy", "zniżka", "zniżki", "promocja", "kupon"],
        },
        "shipping cost": {
            "en": ["shipping cost", "delivery cost", "shipping fee", "delivery fee", "postage",
                   "free shipping", "free delivery", "for shipping", "is shipping"],
            "fr": ["frais de port", "frais de livraison", "livraison gratuite", "port offert",
                   # 2026-12-06 (eighth batch)
                   "de port"],
            "de": ["Versandkosten", "Lieferkosten", "kostenloser Versand", "Versand für"],
            "es": ["gastos de envío", "coste de envío", "envío gratis", "envío gratuito"],
            "pl": ["koszt wysyłki", "koszty wysyłki", "darmowa dostawa", "darmowa wysyłka", "za wysyłkę"],
        },
    },
    "cancellation": {
        "order": {
            "en": ["cancel order", "cancel the order", "cancel my order"],
            "fr": ["annuler ma commande", "annuler la commande", "annuler commande"],
            "de": ["Bestellung stornieren", "stornieren", "storniert", "Stornierung"],
            "es": ["cancelar el pedido", "cancelar mi pedido", "anular el pedido"],
            "pl": ["anulować zamówienie", "anulowac zamowienie", "anulowanie zamówienia"],
        },
        "subscription": {
            "en": ["cancel", "cancelled", "canceled", "cancelling", "cancellation", "unsubscribe",
                   "cancel membership", "close account", "close my account", "delete account",
                   "delete my account", "terminate", "end my contract",
                   # 2026-12-06 (sixth batch): leaving a contract or a provider
                   "notice period", "end the contract", "leave the contract", "out of the contract",
                   "out of my contract", "switching provider", "pac code", "end my membership",
                   "membership ended"],
            "fr": ["annuler", "annule", "annulé", "annulation", "résilier", "résiliation", "résilié",
                   "désabonner", "désabonnement", "supprimer mon compte", "supprimez mon compte",
                   "fermer mon compte", "clôturer",
                   # 2026-12-06 (seventh batch)
                   "résiliée", "annulée", "mettre fin", "mets fin", "met fin", "fin au contrat",
                   "fin à mon contrat", "fin à l'abonnement", "fin à mon abonnement", "arrêter le contrat",
                   "arrêter mon contrat", "arrêter l'abonnement", "arrêter mon abonnement",
                   "changer d'opérateur", "code rio", "fermer compte", "supprimer compte", "clôturer compte",
                   "désinscrire", "désinscription",
                   # 2026-12-06 (eighth batch)
                   "arrêter mon forfait", "arrêter le forfait", "arrêter ma ligne", "stopper mon abonnement",
                   "stopper l'abonnement", "stopper le contrat", "suspendre mon abonnement",
                   "fin de l'engagement", "fin d'engagement", "fin de mon abonnement", "fin de l'abonnement",
                   "fin du contrat", "fin de mon contrat", "rompre le contrat", "rompre mon contrat",
                   "je vous quitte", "vous quitter", "quitter votre", "quitte votre", "portabilité",
                   "à la concurrence", "désactiver mon compte"],
            "de": ["kündigen", "Kündigung", "gekündigt", "Abo beenden", "Vertrag beenden", "Konto löschen",
                   "widerrufen", "Widerruf"],
            "es": ["cancelar", "cancelado", "cancelación", "anular", "darme de baja", "dar de baja",
                   "borrar mi cuenta", "eliminar mi cuenta"],
            "pl": ["anulować", "anulowac", "anulowanie", "anuluję", "rezygnacja", "zrezygnować",
                   "zrezygnowac", "wypowiedzenie", "wypowiedzieć", "usunąć konto", "zamknąć konto"],
        },
    },
}  # fmt: skip

# Phrases that take a label back from the built-in taxonomy: a concessive or sarcastic "thanks", a
# shipping price that is pricing rather than delivery, an account being closed rather than used.
# Matched like keywords; " ... " allows up to EXCEPTION_GAP words between two words ("thanks for the
# quick reply, but").
DEFAULT_EXCEPTIONS: dict[str, dict[str, list[str]]] = {
    "praise/thanks": {
        "en": ["thanks ... but", "thank you ... but", "thanks for nothing", "thanks in advance",
               "thanks anyway", "cheers ... but", "thanks ... however", "thank you ... however"],
        "fr": ["merci ... mais", "merci pour rien", "merci d'avance", "merci quand même",
               # 2026-12-06 (seventh batch)
               "merci de me", "merci de bien vouloir", "merci d'annuler", "merci de clôturer",
               "merci de corriger", "merci de rembourser", "merci de vérifier", "merci de confirmer",
               "merci de faire"],
        "de": ["danke ... aber", "danke für nichts", "danke im Voraus", "trotzdem danke"],
        "es": ["gracias ... pero", "gracias por nada", "gracias de antemano"],
        "pl": ["dzięki ... ale", "dziękuję ... ale", "z góry dziękuję"],
    },
    "praise/compliment": {
        "en": ["not happy", "not impressed", "love being", "love waiting", "love how", "oh great",
               "oh wonderful", "oh brilliant", "great another", "just great", "didn't help",
               "doesn't help", "no help"],
        "fr": ["pas content", "pas contente",
               # 2026-12-06 (seventh batch)
               "adore attendre", "adore être", "adore devoir", "super encore", "génial encore",
               "bravo encore", "top encore", "carton ... nickel", "emballage ... nickel",
               # 2026-12-06 (eighth batch)
               "pas satisfait", "pas satisfaite", "pas du tout satisfait", "pas du tout satisfaite",
               "pas très satisfait", "peu satisfait", "peu satisfaite", "meilleur prix", "meilleurs prix",
               "meilleure offre", "meilleur tarif", "meilleur moyen", "meilleure façon", "meilleure solution",
               "pas sympa", "pas très sympa", "pas aimable", "pas très aimable", "peu aimable",
               "pas agréable", "pas très agréable", "pas cool", "super l'accueil", "bravo l'accueil",
               "génial l'accueil", "top l'accueil", "meilleurs délais", "meilleur délai",
               "meilleures salutations", "meilleurs sentiments", "satisfait ou remboursé",
               "satisfaite ou remboursée", "manque de professionnalisme", "aucun professionnalisme",
               "zéro professionnalisme", "pas très professionnel", "pas professionnel"],
        "de": ["nicht zufrieden"],
        "es": ["no estoy contento", "me encanta estar", "me encanta esperar"],
        "pl": ["nie jestem zadowolony", "nie jestem zadowolona"],
    },
    "delivery/status": {
        "en": ["fitness tracker", "free shipping", "shipping cost", "return shipping", "pay for shipping",
               "how much is shipping", "for shipping", "free delivery", "delivery fee", "delivery charge",
               "delivery cost", "pay for delivery", "how much is delivery"],
        "fr": ["frais de port", "frais de livraison",
               # 2026-12-06 (seventh batch)
               "renvoyé le colis", "retourné le colis", "colis retour", "carton ... intact",
               "carton ... nickel", "emballage ... intact", "combien coûte la livraison",
               "coût de la livraison", "prix de la livraison",
               # 2026-12-06 (eighth batch): the box was fine, the fault is the product's; a return
               "bon état mais", "parfait état mais", "intact mais", "retour ... entrepôt",
               "retourné ... entrepôt"],
        "es": ["gastos de envío", "coste de envío"],
        "pl": ["za wysyłkę", "koszt wysyłki"],
    },
    "delivery/late": {
        "en": ["late fee", "late payment"],
        # 2026-12-06 (eighth batch): a code or an email not received is the account's
        "fr": ["pas reçu le code", "pas reçu de code", "pas reçu le sms", "pas reçu de sms",
               "pas reçu le mail", "pas reçu de mail", "pas reçu le lien"],
    },
    # a code, email or text that never comes is the account's; a lost password is no lost parcel
    "delivery/lost": {
        "en": ["code ... never", "email ... never", "text ... never", "lost ... password"],
        # a flight ("vol") is no theft ("volé" stems as "vol" does)
        "fr": ["du vol", "mon vol", "notre vol", "ce vol", "votre vol", "perdu mon mot de passe",
               "perdu mes identifiants",
               # 2026-12-06 (eighth batch): money missing from a refund is the refund's
               "remboursé ... manque", "manque ... remboursement",
               # (the customer's own wrong choice is no wrong item)
               "pris la mauvaise", "pris le mauvais", "commandé la mauvaise", "commandé le mauvais",
               "trompé de", "trompée de", "boîte mail", "boîte de réception",
               # ("manque de ..." is a lack, no missing item)
               "manque de professionnalisme", "manque de respect", "manque de sérieux",
               "manque de communication", "manque d'information", "manque de réactivité"],
    },
    "billing/wrong charge": {
        "en": ["double charged", "charged twice", "charged two times", "stopped charging", "not charging",
               "won't charge", "when charging", "while charging", "charging cable", "charging port",
               "wireless charging", "fast charging"],
        "fr": ["prélevé deux fois", "débité deux fois", "facturé deux fois",
               # 2026-12-06 (seventh batch)
               "prélevée deux fois", "débitée deux fois", "facturée deux fois",
               # 2026-12-06 (eighth batch): a refund's transfer; a connection's speed ("débit")
               "prélevé 2 fois", "débité 2 fois", "facturé 2 fois", "prélevée 2 fois", "débitée 2 fois",
               "facturée 2 fois", "remboursé ... virement", "virement ... remboursé", "débit internet",
               "débit ... fibre", "débit ... wifi", "débit ... connexion", "débit ... box"],
        "de": ["doppelt abgebucht", "zweimal abgebucht", "doppelt berechnet"],
        "es": ["cobrado dos veces"],
        "pl": ["pobraliście dwa razy", "pobrano dwa razy"],
    },
    # a promo code or a return label that is refused is pricing's or refund's, no product defect
    "defect/bug": {
        "en": ["code ... invalid", "voucher ... invalid", "coupon ... invalid"],
        # 2026-12-06 (eighth batch): done by mistake; an item or an adviser that is unavailable
        "fr": ["par erreur", "article indisponible", "produit indisponible", "taille indisponible",
               "modèle indisponible", "indisponible en stock", "conseiller indisponible",
               "conseillers indisponibles"],
    },
    "defect/not working": {
        "en": ["code ... doesn't work", "code ... not working", "discount ... doesn't work",
               "voucher ... doesn't work", "label ... doesn't work"],
        "fr": ["code promo ... ne marche pas", "code promo ... ne fonctionne pas",
               # 2026-12-06 (eighth batch): left to cope alone; a payment not recognised
               "débrouiller tout seul", "débrouiller toute seule", "paiement ... reconnu",
               "prélèvement ... reconnu", "débit ... reconnu", "opération ... reconnu"],
    },
    # headphones' noise cancelling is a feature, neither a noise nor a cancellation
    "defect/broken": {
        "en": ["noise cancelling", "noise canceling", "noise cancellation"],
        # 2026-12-06 (eighth batch): "par défaut" is "by default"; a warranty question about breakage; a
        # torn box is the delivery's
        "fr": ["par défaut", "à défaut", "couvre la casse", "garantie casse", "assurance casse",
               "en cas de casse", "carton déchiré", "emballage déchiré", "colis déchiré"],
    },
    "cancellation/subscription": {"en": ["noise cancelling", "noise canceling", "noise cancellation"]},
    "account/login": {
        "en": ["delete account", "close account", "cancel account", "account number", "left my account",
               "from my account", "bank account", "accounts team", "accounts department", "accounts inbox",
               "money ... my account"],
        "fr": ["supprimer compte", "supprimez compte", "fermer compte",
               # 2026-12-06 (seventh batch)
               "compte bancaire", "compte en banque", "ma compta", "la compta", "comptabilité",
               "perd la connexion", "connexion bluetooth", "connexion internet", "connexion wifi",
               "connexion fibre", "clôturer compte",
               # 2026-12-06 (eighth batch): an account closed, money on a bank account, a device's link
               "supprimer ... compte", "fermer ... compte", "clôturer ... compte", "désactiver ... compte",
               "résilier ... compte", "argent ... compte", "remboursé ... compte", "virement ... compte",
               "crédité ... compte", "versé ... compte", "débité sur mon compte", "prélevé sur mon compte",
               "connecte ... wifi", "connecte ... bluetooth", "connecte ... box", "connecte ... réseau",
               "connecte ... télé", "connexion ... box", "connexion ... réseau", "connexion ... 4g",
               "connexion instable", "connexion saute", "connexion coupe", "perte de connexion",
               "coupure de connexion", "soucis de connexion"],
        "pl": ["na koncie"],
    },
    # 2026-12-06 (seventh batch): a box that arrived intact means the fault is the product's, no transit
    # damage; a return dropped at the post office is the refund's; "merci pour le suivi" thanks for a
    # follow-up; an email address is no delivery address; "ça me renvoie à l'accueil" is no return
    "delivery/damaged": {
        "fr": ["carton ... intact", "carton ... nickel", "emballage ... intact", "colis ... intact"],
    },
    "delivery/courier": {
        "fr": ["retour ... la poste", "retour ... point relais",
               # 2026-12-06 (eighth batch): an adviser who takes over
               "retour ... relais", "prendre le relais", "prend le relais", "pris le relais"],
    },
    "delivery/tracking": {
        "fr": ["merci pour le suivi", "merci du suivi", "suivi de mon dossier", "suivi du dossier",
               # 2026-12-06 (eighth batch): a return's tracking is the refund's
               "retour ... suivi", "retourné ... suivi", "renvoyé ... suivi"],
    },
    "delivery/address": {
        "fr": ["adresse mail", "adresse e-mail", "adresse email", "adresse électronique", "adresse ip"],
    },
    "refund/return": {
        "fr": ["me renvoie à", "me renvoie vers", "me renvoie sur", "renvoie vers", "attends votre retour",
               "attente de votre retour"],
    },
    # 2026-12-06 (eighth batch): a bank balance ("solde") is no sale ("soldes"); both stem as "sold"
    "pricing/discount": {
        "fr": ["mon solde", "le solde de", "votre solde", "solde de mon compte", "solde du compte",
               "solde disponible", "solde bancaire", "solde de tout compte"],
    },
    # 2026-12-06 (eighth batch): cards that are no means of payment
    "billing/payment": {
        "fr": ["carte sim", "carte de fidélité", "carte grise", "carte d'identité", "carte vitale",
               "carte de train", "carte jeune", "carte mère", "carte graphique", "carte sd", "carte mémoire",
               "carte d'embarquement", "carte cadeau", "carte de transport", "carte navigo",
               # money coming back to a card is the refund's
               "revenu sur ma carte", "revenus sur ma carte", "remboursé ... carte", "recrédité ... carte"],
    },
}  # fmt: skip

# A phrase still matches with this many extra words between two of its words ("charged me twice").
PHRASE_GAP = 1
EXCEPTION_GAP = 5
_WIDE = "..."  # in a compiled phrase: the next word may come up to EXCEPTION_GAP words later
_APOSTROPHE = re.compile("['\u2019]")
_NON_WORD = re.compile(r"[\W_]+")
# Letters strip_accents keeps that people also write plainly ("haslo" for "hasło", "Strasse").
_ELIDING = frozenset(("fr", "it"))
_FOLD = str.maketrans({"ł": "l", "ß": "ss", "ø": "o", "đ": "d"})


def words(text: str, lang: str | None = "en") -> list[str]:
    """The words of `text` lowercased, accents folded and apostrophes dropped, punctuation as word
    breaks: "I was double-charged, can't log in!" -> ["i", "was", "double", "charged", "cant", "log", "in"];
    "Hasło" -> ["haslo"]. In French and Italian an apostrophe ends an elided word: "l'écran" -> ["l",
    "ecran"]."""
    lowered = text.lower()
    if not lowered.isascii():
        lowered = strip_accents(lowered).translate(_FOLD)
    return _NON_WORD.sub(" ", _APOSTROPHE.sub(" " if lang in _ELIDING else "", lowered)).split()


def _stemmer_language(lang: str | None) -> str:
    return lang if lang in _STEMMER_NAMES else "en"


@functools.cache
def _stem_word(lang: str):
    return snowballstemmer.stemmer(_STEMMER_NAMES[lang]).stemWord


@functools.lru_cache(maxsize=200_000)
def stem(word: str, lang: str = "en") -> str:
    """The Snowball stem of a word as `words` gives it, in `lang`'s stemmer (English for "und" and
    languages without one): "parcels" -> "parcel"; "livraisons" -> "livraison"; "lieferungen" ->
    "liefer". Words with digits are kept as they are."""
    if not word.isalpha():
        return word
    return _stem_word(_stemmer_language(lang))(word)


def stems(text: str, lang: str = "en") -> list[str]:
    """The stems of the words of `text`, in order, in `lang`'s stemmer."""
    return [stem(word, lang) for word in words(text, lang)]


Phrases = dict[str, list[tuple[tuple[str, ...], int]]]  # first stem -> [(remaining stems, label index)]


@dataclass(frozen=True, eq=False)
class Taxonomy:
    """A compiled taxonomy: labels in taxonomy order and, per language, the phrases starting with each
    stem; `exceptions` take labels back (the built-in taxonomy's only)."""

    labels: tuple[str, ...]
    phrases: dict[str, Phrases]
    exceptions: dict[str, Phrases]

    def match(self, text: str, lang: str | None = "en") -> list[str]:
        """The "topic/subtopic" labels whose keywords or phrases occur in `text`, in taxonomy order;
        [] when none does. `text` is read as `lang` (detect_language's code); a language the taxonomy
        has no keywords for is read as English."""
        if lang not in self.phrases:
            lang = "en"
        tokens = stems(text, lang)
        found = _found(tokens, self.phrases[lang])
        if found and lang in self.exceptions:
            found -= _found(tokens, self.exceptions[lang])
        return [self.labels[label] for label in sorted(found)]


def _found(tokens: list[str], phrases: Phrases) -> set[int]:
    found: set[int] = set()
    present: set[str] | None = None  # the message's stems, to skip a phrase whose last word is absent
    for i, token in enumerate(tokens):
        for rest, label in phrases.get(token, ()):
            if label in found:
                continue
            if rest:
                if present is None:
                    present = set(tokens)
                if rest[-1] not in present or not _follows(tokens, i, rest):
                    continue
            found.add(label)
    return found


def _follows(tokens: list[str], at: int, rest: tuple[str, ...]) -> bool:
    gap = PHRASE_GAP
    for word in rest:
        if word is _WIDE:
            gap = EXCEPTION_GAP
            continue
        window = tokens[at + 1 : at + 2 + gap]
        if word not in window:
            return False
        at += 1 + window.index(word)
        gap = PHRASE_GAP
    return True


def compile_taxonomy(taxonomy: dict | None) -> Taxonomy:
    """`taxonomy` (topic -> subtopic -> keywords, as read from YAML; None for DEFAULT_TAXONOMY) compiled
    for `Taxonomy.match`. A subtopic's keywords are a list, matched in every language, or a mapping of
    language code -> list, each list matched in its language only. Raises ValueError naming the entry
    when the shape is wrong, a name is empty or holds "," or "/", or a keyword has no letters or digits."""
    default = taxonomy is None
    taxonomy = DEFAULT_TAXONOMY if default else taxonomy
    if not isinstance(taxonomy, dict):
        raise ValueError("topics: expected a mapping of topic -> subtopic -> keywords")
    labels: list[str] = []
    per_language: list[dict[str, list[str]] | list[str]] = []
    for topic, subtopics in taxonomy.items():
        if not isinstance(subtopics, dict):
            raise ValueError(f"topics: {topic!r} must map subtopics to keyword lists")
        for subtopic, keywords in subtopics.items():
            for name in (topic, subtopic):
                # Labels are stored comma-separated and split on "/" into topic and subtopic.
                if not isinstance(name, str) or not name.strip() or "," in name or "/" in name:
                    raise ValueError(f"topics: {name!r} must be a name without ',' or '/'")
            label = f"{topic}/{subtopic}"
            lists = keywords.values() if isinstance(keywords, dict) else [keywords]
            if not all(isinstance(ks, list) and all(isinstance(k, str) for k in ks) for ks in lists) or (
                isinstance(keywords, dict) and not all(lang in _STEMMER_NAMES for lang in keywords)
            ):
                raise ValueError(
                    f"topics: {label!r} must be a list of keywords, or a mapping of language "
                    f"({', '.join(_STEMMER_NAMES)}) to lists of keywords"
                )
            labels.append(label)
            per_language.append(keywords)
    # Languages with keywords of their own get a table; a plain list goes into every table (at least
    # English's, which also serves languages without keywords).
    langs = {"en"} | {lang for keywords in per_language if isinstance(keywords, dict) for lang in keywords}
    if any(isinstance(keywords, list) for keywords in per_language):
        langs |= set(_STEMMER_NAMES)
    phrases: dict[str, Phrases] = {lang: {} for lang in sorted(langs)}
    for index, keywords in enumerate(per_language):
        for lang, table in phrases.items():
            listed = keywords if isinstance(keywords, list) else keywords.get(lang, ())
            _add(table, listed, lang, index, labels[index])
    exceptions: dict[str, Phrases] = {}
    if default:
        for label, by_lang in DEFAULT_EXCEPTIONS.items():
            for lang, listed in by_lang.items():
                _add(exceptions.setdefault(lang, {}), listed, lang, labels.index(label), label, wide=True)
    return Taxonomy(labels=tuple(labels), phrases=phrases, exceptions=exceptions)


def _add(table: Phrases, keywords: Iterable[str], lang: str, index: int, label: str, wide=False) -> None:
    """Adds `keywords` under `label`; with `wide`, " ... " in a keyword is a wide gap (_WIDE)."""
    for keyword in keywords:
        parts = keyword.split(" ... ") if wide else [keyword]
        tokens = [tok for n, part in enumerate(parts) for tok in ([_WIDE] if n else []) + stems(part, lang)]
        if not tokens:
            raise ValueError(f"topics: keyword {keyword!r} in {label!r} has no letters or digits")
        table.setdefault(tokens[0], []).append((tuple(tokens[1:]), index))


# Words that say nothing about a support problem, per language, on top of its stop words.
_FILLER_WORDS = {
    "en": "a all also am as back been being both cant dont did didnt doesnt each even ever every guys hasnt "
    "havent help hii im isnt ive know like lol many more most much need new now off ok okay one only "
    "other out over pls plz really same say see since sorry such sure team tell thank thx too two "
    "ty up update via want wasnt way week weeks day days month months well went were will wont yet "
    "you your youre yours order orders",
    "fr": "a aussi avez avoir bien bcp ca c cest d dhab donc elle en est etait etre fait faire j jai "
    "jours l la le leur lui m mdr me meme moi mois n ni non nos notre on ont oui par peu peut pouvez "
    "qqch qu quoi s sa se semaine semaines ses si son sont sous svp stp t tout toute tous toutes trop "
    "un vais veux voila vos votre vous y commande commandes mrc aide besoin",
    "de": "alle als also am an auch bin bis bitte da dann dass denn dich dir doch dort eigentlich einem "
    "einer eines es euch etwas ganz gibt hab haben hatte immer ist ja jetzt kann kein man mal mich "
    "mir muss nach nein nichts nur ob oder ok sehr sich so sollte tag tage um uns unser was weil "
    "wenn werden wieder will wird woche wochen zum zur bestellung bestellungen hilfe",
    "es": "a al algo alguien ahora aqui asi bien cada cual desde dia dias e era eso esta estan este esto "
    "fue gracias ha han hay hoy lo me mes meses mucho muy ni nos nosotros nunca o otra otro pedido "
    "pedidos pero poco pues q que quiero semana semanas ser si sin sobre solo son su tambien te ti "
    "todo tu un una uno usted vez vosotros vuestro ya yo ayuda",
    "pl": "a ale bo by byc byl byla bylo co dla dzien go ich ja jak jakis jej jest juz ktory ktora ma mi "
    "mnie moj moja moje mu my na nam nas nic nie o od on ona oni po pod prosze przez sa sie tak tam "
    "te tego ten to tu tydzien tygodnie u w wiec was wy z za ze zamowienie zamowienia pomoc",
}
_FILLER: dict[str, frozenset[str]] = {
    lang: frozenset(words(" ".join(STOP_WORDS.get(lang, ())) + " " + _FILLER_WORDS.get(lang, ""), lang))
    for lang in _STEMMER_NAMES
}
# Languages key phrases are read in: those with stop words and a stemmer; "und" is read as English.
PHRASE_LANGUAGES = frozenset(lang for lang in STOP_WORDS if lang in _STEMMER_NAMES) | {"und"}


def key_phrases(
    texts: Iterable[str | tuple[str, str | None]], top: int = 10, *, min_count: int = 2
) -> list[tuple[str, int]]:
    """The `top` phrases (one to three words) recurring across `texts`, as (phrase, number of texts
    containing it), most frequent first; phrases in fewer than `min_count` texts are left out. Each text
    is a string, read as English, or a (text, language) pair: stop and filler words and stems are then
    that language's (English for "und", None or a language without them).

    Near-duplicates are one group: word order and inflection do not count, so "screen flicker",
    "screen flickering" and "flickering screen" are one phrase, shown in its most common wording. A
    phrase is dropped when a longer one containing it covers at least half of its texts ("screen"
    inside "screen flicker"). Meant for the messages the taxonomy did not match.
    """
    texts_with: Counter[frozenset[str]] = Counter()
    wordings: dict[frozenset[str], Counter[str]] = {}
    for item in texts:
        text, lang = (item, "en") if isinstance(item, str) else item
        lang = _stemmer_language(lang)
        seen: set[frozenset[str]] = set()
        for run in _content_runs(words(text, lang), _FILLER[lang]):
            for n in range(1, min(3, len(run)) + 1):
                for start in range(len(run) - n + 1):
                    gram = run[start : start + n]
                    key = frozenset(stem(word, lang) for word in gram)
                    if len(key) == n and key not in seen:
                        seen.add(key)
                        wordings.setdefault(key, Counter())[" ".join(gram)] += 1
        texts_with.update(seen)
    kept = {key: count for key, count in texts_with.items() if count >= min_count}
    covered: set[frozenset[str]] = set()
    for key, count in kept.items():
        for size in range(1, len(key)):
            for part in combinations(key, size):
                part_key = frozenset(part)
                if part_key in kept and count * 2 >= kept[part_key]:
                    covered.add(part_key)
    ranked = sorted(
        (key for key in kept if key not in covered),
        key=lambda key: (-kept[key], -len(key), wordings[key].most_common(1)[0][0]),
    )
    return [(wordings[key].most_common(1)[0][0], kept[key]) for key in ranked[:top]]


def _content_runs(tokens: list[str], filler: frozenset[str]) -> list[list[str]]:
    """Maximal runs of content words: stop words, numbers and one-letter words break a run."""
    runs: list[list[str]] = [[]]
    for token in tokens:
        if token in filler or len(token) < 2 or not token.isalpha():
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(token)
    return [run for run in runs if run]
