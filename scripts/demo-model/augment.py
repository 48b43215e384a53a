"""Extra training pairs for the demo model, composed from a hand-written five-language lexicon.

Only used as additional *training* text for the demo model (never in demo/data). Two patterns, each
realised with each language's own word order and agreement:
  "{subject} {verb} {place} {time}."  (German: time before place; Russian: time before the verb;
                                       English: simple present with habitual times, progressive else)
  "The {object} is {location}."
Rows are (en, fr, de, es, ru) tuples; anything equal to a held-out sentence is dropped by train.py.
"""
import random

# subject: en, fr, de, es, ru, kind (a = animal, p = person)
SUBJECTS = [
    ("the cat", "le chat", "die Katze", "el gato", "кошка", "a"),
    ("the dog", "le chien", "der Hund", "el perro", "собака", "a"),
    ("the horse", "le cheval", "das Pferd", "el caballo", "лошадь", "a"),
    ("my brother", "mon frère", "mein Bruder", "mi hermano", "мой брат", "p"),
    ("my sister", "ma sœur", "meine Schwester", "mi hermana", "моя сестра", "p"),
    ("the teacher", "le professeur", "der Lehrer", "el profesor", "учитель", "p"),
    ("the doctor", "le médecin", "der Arzt", "el médico", "врач", "p"),
    ("my mother", "ma mère", "meine Mutter", "mi madre", "моя мама", "p"),
    ("my father", "mon père", "mein Vater", "mi padre", "мой отец", "p"),
    ("the boy", "le garçon", "der Junge", "el niño", "мальчик", "p"),
    ("the girl", "la fille", "das Mädchen", "la niña", "девочка", "p"),
    ("my friend", "mon ami", "mein Freund", "mi amigo", "мой друг", "p"),
    ("our neighbour", "notre voisin", "unser Nachbar", "nuestro vecino", "наш сосед", "p"),
    ("the old man", "le vieil homme", "der alte Mann", "el anciano", "старик", "p"),
    ("my grandmother", "ma grand-mère", "meine Großmutter", "mi abuela", "моя бабушка", "p"),
    ("my uncle", "mon oncle", "mein Onkel", "mi tío", "мой дядя", "p"),
    ("my aunt", "ma tante", "meine Tante", "mi tía", "моя тётя", "p"),
    ("my son", "mon fils", "mein Sohn", "mi hijo", "мой сын", "p"),
    ("my daughter", "ma fille", "meine Tochter", "mi hija", "моя дочь", "p"),
]

# verb: en simple, en progressive, fr, de (person), de (animal), es, ru, kinds
VERBS = [
    ("sleeps", "is sleeping", "dort", "schläft", "schläft", "duerme", "спит", "ap"),
    ("plays", "is playing", "joue", "spielt", "spielt", "juega", "играет", "ap"),
    ("eats", "is eating", "mange", "isst", "frisst", "come", "ест", "ap"),
    ("runs", "is running", "court", "läuft", "läuft", "corre", "бегает", "ap"),
    ("drinks water", "is drinking water", "boit de l'eau", "trinkt Wasser", "trinkt Wasser", "bebe agua", "пьёт воду", "ap"),
    ("reads", "is reading", "lit", "liest", "", "lee", "читает", "p"),
    ("works", "is working", "travaille", "arbeitet", "", "trabaja", "работает", "p"),
    ("sings", "is singing", "chante", "singt", "", "canta", "поёт", "p"),
    ("waits", "is waiting", "attend", "wartet", "", "espera", "ждёт", "p"),
    ("cooks", "is cooking", "cuisine", "kocht", "", "cocina", "готовит", "p"),
    ("writes a letter", "is writing a letter", "écrit une lettre", "schreibt einen Brief", "", "escribe una carta", "пишет письмо", "p"),
    ("drinks coffee", "is drinking coffee", "boit du café", "trinkt Kaffee", "", "bebe café", "пьёт кофе", "p"),
    ("drinks tea", "is drinking tea", "boit du thé", "trinkt Tee", "", "bebe té", "пьёт чай", "p"),
    ("reads the newspaper", "is reading the newspaper", "lit le journal", "liest die Zeitung", "", "lee el periódico", "читает газету", "p"),
    ("reads a book", "is reading a book", "lit un livre", "liest ein Buch", "", "lee un libro", "читает книгу", "p"),
    ("draws", "is drawing", "dessine", "malt", "", "dibuja", "рисует", "p"),
    ("eats an apple", "is eating an apple", "mange une pomme", "isst einen Apfel", "frisst einen Apfel", "come una manzana", "ест яблоко", "ap"),
]

# place: en, fr, de, es, ru, kinds, verbs (English simple-form prefixes) that do not fit
PLACES = [
    ("in the garden", "dans le jardin", "im Garten", "en el jardín", "в саду", "ap", ()),
    ("in the kitchen", "dans la cuisine", "in der Küche", "en la cocina", "на кухне", "ap", ("runs",)),
    ("in the park", "dans le parc", "im Park", "en el parque", "в парке", "ap", ("cooks",)),
    ("in the room", "dans la chambre", "im Zimmer", "en la habitación", "в комнате", "ap", ("runs", "cooks")),
    ("in the house", "dans la maison", "im Haus", "en la casa", "в доме", "ap", ("runs",)),
    ("on the sofa", "sur le canapé", "auf dem Sofa", "en el sofá", "на диване", "ap", ("runs", "cooks", "works")),
    ("at school", "à l'école", "in der Schule", "en el colegio", "в школе", "p", ("sleeps",)),
    ("at the station", "à la gare", "am Bahnhof", "en la estación", "на вокзале", "p", ("sleeps", "cooks", "plays", "draws")),
    ("in the library", "à la bibliothèque", "in der Bibliothek", "en la biblioteca", "в библиотеке", "p", ("sleeps", "cooks", "runs", "plays", "sings", "eats", "drinks")),
    ("in the forest", "dans la forêt", "im Wald", "en el bosque", "в лесу", "ap", ("works", "writes", "reads the newspaper")),
    ("by the river", "près de la rivière", "am Fluss", "junto al río", "у реки", "ap", ("works",)),
    ("at the hospital", "à l'hôpital", "im Krankenhaus", "en el hospital", "в больнице", "p", ("plays", "runs", "sings")),
    ("in the office", "au bureau", "im Büro", "en la oficina", "в офисе", "p", ("sleeps", "plays", "runs", "cooks")),
    ("at home", "à la maison", "zu Hause", "en casa", "дома", "ap", ()),
    ("at the market", "au marché", "auf dem Markt", "en el mercado", "на рынке", "p", ("sleeps", "reads", "writes", "draws")),
    ("at the window", "à la fenêtre", "am Fenster", "junto a la ventana", "у окна", "ap", ("runs", "cooks", "plays")),
    ("on the beach", "sur la plage", "am Strand", "en la playa", "на пляже", "ap", ("works", "cooks", "writes")),
]

# time: en, fr, de, es, ru, habitual?
TIMES = [
    ("every morning", "tous les matins", "jeden Morgen", "todas las mañanas", "каждое утро", True),
    ("every evening", "tous les soirs", "jeden Abend", "todas las noches", "каждый вечер", True),
    ("every day", "tous les jours", "jeden Tag", "todos los días", "каждый день", True),
    ("on Sunday", "le dimanche", "am Sonntag", "los domingos", "по воскресеньям", True),
    ("in the afternoon", "l'après-midi", "am Nachmittag", "por la tarde", "днём", True),
    ("in winter", "en hiver", "im Winter", "en invierno", "зимой", True),
    ("now", "maintenant", "jetzt", "ahora", "сейчас", False),
    ("today", "aujourd'hui", "heute", "hoy", "сегодня", False),
    None,
]

# object (en, fr, de, es, ru, food?) and location (en, fr, de, es, ru, allows food?)
OBJECTS = [
    ("book", "le livre", "das Buch", "el libro", "книга", False),
    ("phone", "le téléphone", "das Handy", "el teléfono", "телефон", False),
    ("letter", "la lettre", "der Brief", "la carta", "письмо", False),
    ("cup", "la tasse", "die Tasse", "la taza", "чашка", False),
    ("newspaper", "le journal", "die Zeitung", "el periódico", "газета", False),
    ("pencil", "le crayon", "der Bleistift", "el lápiz", "карандаш", False),
    ("key", "la clé", "der Schlüssel", "la llave", "ключ", False),
    ("ball", "le ballon", "der Ball", "la pelota", "мяч", False),
    ("lamp", "la lampe", "die Lampe", "la lámpara", "лампа", False),
    ("bread", "le pain", "das Brot", "el pan", "хлеб", True),
    ("milk", "le lait", "die Milch", "la leche", "молоко", True),
    ("cheese", "le fromage", "der Käse", "el queso", "сыр", True),
    ("cake", "le gâteau", "der Kuchen", "el pastel", "торт", True),
    ("fish", "le poisson", "der Fisch", "el pescado", "рыба", True),
]
LOCATIONS = [
    ("on the table", "sur la table", "auf dem Tisch", "en la mesa", "на столе", True),
    ("in the kitchen", "dans la cuisine", "in der Küche", "en la cocina", "на кухне", True),
    ("in the fridge", "dans le frigo", "im Kühlschrank", "en la nevera", "в холодильнике", True),
    ("in the bag", "dans le sac", "in der Tasche", "en la bolsa", "в сумке", True),
    ("on the shelf", "sur l'étagère", "im Regal", "en la estantería", "на полке", False),
    ("under the bed", "sous le lit", "unter dem Bett", "debajo de la cama", "под кроватью", False),
    ("on the floor", "par terre", "auf dem Boden", "en el suelo", "на полу", False),
    ("on the chair", "sur la chaise", "auf dem Stuhl", "en la silla", "на стуле", False),
    ("on the desk", "sur le bureau", "auf dem Schreibtisch", "en el escritorio", "на столе", False),
    ("in the car", "dans la voiture", "im Auto", "en el coche", "в машине", False),
]


def cap(s):
    return s[:1].upper() + s[1:]


def activity_rows():
    rows = []
    for s in SUBJECTS:
        for v in VERBS:
            if s[5] not in v[7]:
                continue
            for p in PLACES:
                if s[5] not in p[5] or any(v[0].startswith(x) for x in p[6]):
                    continue
                for t in TIMES:
                    habitual = t is not None and t[5]
                    en_v = v[0] if habitual else v[1]
                    de_v = v[3] if s[5] == "p" else v[4]
                    tt = t if t is not None else ("",) * 5
                    en = " ".join(x for x in (s[0], en_v, p[0], tt[0]) if x)
                    fr = " ".join(x for x in (s[1], v[2], p[1], tt[1]) if x)
                    de_head, _, de_obj = de_v.partition(" ")  # time goes right after the finite verb
                    de = " ".join(x for x in (s[2], de_head, tt[2], de_obj, p[2]) if x)
                    es = " ".join(x for x in (s[3], v[5], p[3], tt[3]) if x)
                    ru = " ".join(x for x in (s[4], tt[4], v[6], p[4]) if x)
                    rows.append(tuple(cap(x) + "." for x in (en, fr, de, es, ru)))
    return rows


def object_rows():
    rows = []
    for o in OBJECTS:
        for loc in LOCATIONS:
            if o[5] and not loc[5]:
                continue
            if o[0] in ("bag",) and "bag" in loc[0]:
                continue
            de_verb = "ist"
            rows.append((
                f"The {o[0]} is {loc[0]}.",
                cap(f"{o[1]} est {loc[1]}."),
                cap(f"{o[2]} {de_verb} {loc[2]}."),
                cap(f"{o[3]} está {loc[3]}."),
                cap(f"{o[4]} {loc[4]}."),
            ))
    return rows


def all_rows(seed=0):
    rows = activity_rows() + object_rows()
    random.Random(seed).shuffle(rows)
    return rows


if __name__ == "__main__":
    rows = all_rows()
    print(len(rows), "rows")
    for r in rows[:12]:
        print(" | ".join(r))
