"""Food words: what makes a caller's phrase a dish, and which allergens an ingredient carries.

The front desk must never confirm a dish the menu does not hold, nor call something safe
for an allergy the data does not vouch for. To notice that a caller asked for a dish at
all ("do you have ramen?", "two pepperoni pizzas"), it needs to know food words that are
not on this restaurant's menu; to answer "is the California roll OK with a shellfish
allergy?" from the data ("crab, avocado, cucumber"), it needs to know that crab is a
shellfish. Both are general knowledge, kept here as plain word lists.
"""

from __future__ import annotations

import re

# Dishes, drinks and their heads, as callers name them. Not exhaustive: a phrase with none
# of these words is not taken for a dish (the bot then answers in words, not as an order).
FOOD_WORDS = frozenset("""
appetizer appetizers bagel bagels baguette bao bbq beef beer beers biryani bisque bowl bowls bread breadsticks
brownie brownies bruschetta burger burgers burrito burritos cake cakes calamari calzone cannoli cappuccino carbonara
cheesecake chicken chili chips chocolate chowder coffee coke cookie cookies croissant croissants curry
dessert desserts donut donuts dumpling dumplings edamame egg eggs enchilada enchiladas espresso falafel fettuccine fish
fries gelato gnocchi gyoza hamburger hotdog hummus juice kebab lasagna latte lattes lemonade lobster
macchiato mochi muffin muffins nachos nigiri noodle noodles omelet omelette pad pancake pancakes panini pasta
pho pie pies sake pizza pizzas poke pork ramen ravioli risotto roll rolls salad salads salmon sandwich sandwiches
sashimi sausage scallops shake shrimp smoothie soda soup soups spaghetti steak sushi taco tacos tea tempura
teriyaki tiramisu toast tofu tuna udon soba waffle waffles water wine wings wrap wraps yakitori
""".split())

# Allergen → the ingredient words that carry it (lower case, singular and plural as said).
ALLERGENS: dict[str, tuple[str, ...]] = {
    "shellfish": ("shellfish", "crab", "shrimp", "prawn", "lobster", "crayfish", "scallop", "clam", "mussel",
                  "oyster", "krill"),
    "fish": ("fish", "salmon", "tuna", "eel", "cod", "anchovy", "anchovies", "mackerel", "yellowtail", "sardine"),
    "gluten": ("gluten", "wheat", "flour", "bread", "breadcrumbs", "barley", "rye", "pasta", "spaghetti",
               "lasagna", "noodle", "noodles", "batter", "pizza", "dough", "toast", "béchamel", "bechamel"),
    "dairy": ("dairy", "milk", "cheese", "mozzarella", "pecorino", "parmesan", "ricotta", "mascarpone", "cream",
              "butter", "yogurt", "béchamel", "bechamel", "ice cream", "lactose"),
    "egg": ("egg", "eggs", "mayonnaise", "mayo", "carbonara"),
    "peanuts": ("peanut", "peanuts"),
    "tree nuts": ("nut", "nuts", "almond", "almonds", "walnut", "walnuts", "cashew", "cashews", "pecan", "pecans",
                  "hazelnut", "hazelnuts", "pistachio", "pistachios"),
    "soy": ("soy", "soya", "tofu", "edamame", "miso", "tamari"),
    "sesame": ("sesame", "tahini"),
}

# How callers name an allergy or a diet ("I'm allergic to nuts", "is it gluten-free?").
_ALLERGEN_SPOKEN = {
    "shellfish": r"shell ?fish|crab|shrimp|prawns?|lobster",
    "fish": r"fish",
    "gluten": r"gluten|wheat|celiac|coeliac",
    "dairy": r"dairy|lactose|milk",
    "egg": r"eggs?",
    "peanuts": r"peanuts?",
    "tree nuts": r"(tree )?nuts?|almonds?|walnuts?|cashews?",
    "soy": r"soy|soya",
    "sesame": r"sesame",
}


def allergens_named(text: str) -> list[str]:
    """The allergens a caller names, in the order of ``ALLERGENS`` ("peanut" is not "tree nuts")."""
    lowered = text.lower()
    found = []
    for allergen, pattern in _ALLERGEN_SPOKEN.items():
        if allergen == "tree nuts" and re.search(r"\bpeanuts?\b", lowered) and not re.search(
                r"(?<!pea)\bnuts?\b|\b(almonds?|walnuts?|cashews?)\b", lowered.replace("peanut", "")):
            continue
        if allergen == "fish" and re.search(r"\bshell ?fish\b", lowered) and not re.search(
                r"(?<!shell)(?<!shell )\bfish\b", lowered):
            continue
        if re.search(rf"\b({pattern})\b", lowered):
            found.append(allergen)
    return found


def carriers_in(text: str, allergen: str) -> list[str]:
    """The words of ``text`` (an ingredient list, an FAQ entry) that carry ``allergen``."""
    lowered = text.lower()
    return [word for word in ALLERGENS.get(allergen, ()) if re.search(rf"\b{re.escape(word)}\b", lowered)]


def food_words_in(text: str) -> list[str]:
    """The food words in ``text`` (lower case, in order)."""
    return [w for w in re.findall(r"[a-z]+", text.lower()) if w in FOOD_WORDS]
