"""The "other" category: eight kinds of documents, each with its own fields, columns and totals.

Every domain can make every kind from its own vocabulary: ``GOODS`` (what it sells or bills: the
items of invoices, receipts, forms, letters and price lists; a food domain's menu lists its dishes),
``EVENTS`` (the sessions of timetables and posters) and its entities and measures (report pages).
So a clinic's invoice bills consultations, not wards, and a menu only exists where there are dishes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generators.docs.bank import PEOPLE, PERIODS, STREETS, Domain

GOODS = {
    "food": ("Brisket platter", "Catering tray", "Smoked sausage", "Sweet tea jug", "Cornbread box", "Rib rack",
             "Pie slice", "Side salad", "Peach cobbler tin", "Sauce bottle"),
    "sports": ("Team jersey", "Training cones", "Match ball", "Entry fee", "Coaching hour", "Shin guards",
               "Water bottle", "Physio session", "Club membership", "Running shoes"),
    "science": ("Pipette tips", "Sample vials", "Binocular rental", "Field guide", "Reagent kit", "Microscope slides",
                "Data logger", "Safety goggles", "Lab coat", "Calibration service"),
    "business": ("Stoneware mug", "Glazed bowl", "Shipping fee", "Gift wrapping", "Tea set", "Serving platter",
                 "Packing crate", "Consulting hour", "Vase", "Candle holder"),
    "civic": ("Parking permit", "Hall rental", "Library card", "Recycling bin", "Event stall", "Bus pass",
              "Planning fee", "Allotment plot", "Photocopies", "Community room"),
    "health": ("Consultation", "Blood test", "X-ray", "Physio session", "Vaccination", "Dressing kit",
               "Prescription", "Yoga class", "Massage", "Follow-up visit"),
    "travel": ("Dorm bed", "Private room", "Airport transfer", "City tour", "Bike rental", "Breakfast",
               "Luggage storage", "Temple pass", "Boat trip", "Travel insurance"),
    "tech": ("Cloud credits", "Support hours", "SSL certificate", "Laptop", "Monitor", "Software licence",
             "Router", "Backup storage", "Domain renewal", "Training seat"),
    "arts": ("Exhibition ticket", "Audio guide", "Catalogue", "Framing", "Art print", "Workshop place",
             "Concert ticket", "Season pass", "Tote bag", "Gallery tour"),
}
EVENTS = {
    "food": ("Knife skills class", "Smoking demo", "Tasting flight", "Bread workshop", "Chef's table",
             "Farmers' market", "Wine pairing", "Brunch service"),
    "sports": ("Warm-up drills", "Interval sprints", "Tempo run", "Team meeting", "Recovery swim", "Video review",
               "Strength circuit", "Junior match"),
    "science": ("Safety briefing", "Titration lab", "Bird count", "Poster session", "Guest lecture",
                "Telescope night", "Data clinic", "Field walk"),
    "business": ("Sales stand-up", "Budget review", "Supplier call", "Product demo", "Investor pitch",
                 "Stock take", "Team lunch", "Quarterly close"),
    "civic": ("Council meeting", "Reading circle", "Food drive", "Public consultation", "Voter drop-in",
              "Story time", "Volunteer training", "Bus route forum"),
    "health": ("Morning yoga", "Ward round", "Physio group", "Vaccination clinic", "Staff handover",
               "Nutrition talk", "Pilates", "First-aid course"),
    "travel": ("Temple walk", "Cooking class", "Night market tour", "Boat trip", "Check-in", "Airport shuttle",
               "Bike tour", "Sunset cruise"),
    "tech": ("Sprint planning", "Code review", "Incident drill", "Deploy window", "Security training",
             "Demo day", "Retrospective", "Hack night"),
    "arts": ("Spring recital", "Curator talk", "Film screening", "Author reading", "Textile workshop",
             "Gallery opening", "String quartet", "Family day"),
}


@dataclass(frozen=True)
class Column:
    name: str
    unit: str
    decimals: int
    lo: float
    hi: float


@dataclass(frozen=True)
class DocKind:
    name: str
    number: str  # label of the document number field ("" = none)
    prefix: str  # of the number
    person: str  # label of the person field
    party: str  # label of the organisation/venue field
    item: str  # header of the item column
    items_from: str  # "goods" | "events" | "entities" (with the domain's measures)
    columns: tuple[Column, ...]
    total: str = ""  # label of the total ("" = none)
    total_kind: str = ""  # "product" (col0 * col1, summed) | "sum" (of col0)
    notes: tuple[str, ...] = ()


C = Column
KINDS: tuple[DocKind, ...] = (
    DocKind("invoice", "Invoice no.", "INV", "Issued by", "Billed to", "Item", "goods",
            (C("Quantity", "", 0, 1, 12), C("Unit price", "$", 2, 2, 120)), "Amount due", "product",
            ("Payment due within 30 days.", "Thank you for your business.")),
    DocKind("receipt", "Receipt no.", "RCT", "Cashier", "Store", "Item", "goods",
            (C("Qty", "", 0, 1, 5), C("Price", "$", 2, 1, 60)), "Total paid", "product",
            ("Keep this receipt for returns.", "Paid by card. No refunds on sale items.")),
    DocKind("price list", "List no.", "PL", "Prepared by", "Valid at", "Item", "goods",
            (C("Price", "$", 2, 3, 95),), notes=("Prices include tax.", "Prices may change without notice.")),
    DocKind("timetable", "Timetable ref.", "TT", "Coordinator", "Location", "Session", "events",
            (C("Duration", "min", 0, 15, 120), C("Room", "", 0, 1, 30)), "Total time", "sum",
            ("Please arrive ten minutes early.", "Rooms may change; check the board.")),
    DocKind("form", "Form no.", "FRM", "Applicant", "Department", "Request", "goods",
            (C("Quantity", "", 0, 1, 10), C("Fee", "$", 2, 5, 90)), "Fee total", "product",
            ("Sign and return to the front desk.", "Incomplete forms cannot be processed.")),
    DocKind("letter", "Ref.", "LTR", "Signed", "To", "Item", "goods",
            (C("Amount", "$", 2, 20, 900),), "Total", "sum",
            ("Please contact us with any questions.", "Yours sincerely.")),
    DocKind("report page", "Report no.", "RPT", "Author", "Unit", "", "entities", (),
            notes=("Figures are provisional.", "Source: internal records.")),
    DocKind("poster", "", "", "Organiser", "Venue", "Programme", "events",
            (C("Ticket price", "$", 2, 0, 45), C("Seats", "", 0, 20, 400)),
            notes=("All welcome.", "Tickets at the door while they last.")),
)
BY_KIND = {k.name: k for k in KINDS}
MENU = DocKind("menu", "", "", "Chef", "Served at", "Dish", "entities_menu",
               (C("Price", "$", 2, 4, 38), C("Calories", "kcal", 0, 90, 1200)),
               notes=("Ask us about allergens.", "Vegetarian options available."))


def kinds_for(d: Domain) -> tuple[str, ...]:
    """The kinds a domain can make: all eight, and a real menu where there are dishes."""
    return tuple(k.name for k in KINDS) + (("menu",) if d.name == "food" else ())


def kind(name: str) -> DocKind:
    return MENU if name == "menu" else BY_KIND[name]


def distinct_values(rng: np.random.Generator, lo: float, hi: float, decimals: int, n: int) -> list[float]:
    for _ in range(50):
        vals = [round(float(v), decimals) for v in rng.uniform(lo, hi, n)]
        if decimals == 0:
            vals = [int(v) for v in vals]
        if len(set(vals)) == n:
            return vals
    return [round(lo + (hi - lo) * (i + 1) / (n + 1), decimals) for i in range(n)]


def sample_fields(rng: np.random.Generator, k: DocKind, org: str) -> dict[str, str]:
    month = str(rng.choice(PERIODS["months"]))
    fields = {}
    if k.number:
        fields[k.number] = f"{k.prefix}-{int(rng.integers(1000, 9999))}"
    fields["Date"] = f"{int(rng.integers(1, 29))} {month} {int(rng.integers(2019, 2026))}"
    fields[k.person] = str(rng.choice(PEOPLE))
    fields[k.party] = org if k.party not in ("Location", "Venue") else f"{org}, {rng.choice(STREETS)}"
    return fields
