"""The offline content bank: per domain, real-sounding entities, measures, process steps, roles.

Personas carry a ``domain``; a PersonaHub persona without one is matched by keywords (else a
random domain). Everything the offline generator writes comes from here plus a seeded RNG.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measure:
    name: str
    unit: str  # shown in axis titles / headers, "" for counts
    lo: float
    hi: float
    decimals: int = 0
    additive: bool = False  # parts of a whole (counts, money, time): fit a pie; rates and averages do not


@dataclass(frozen=True)
class Domain:
    name: str
    keywords: tuple[str, ...]
    entity_kind: str  # singular, e.g. "Dish"
    entities: tuple[str, ...]
    measures: tuple[Measure, ...]
    steps: tuple[str, ...]  # process steps for flowcharts
    roles: tuple[str, ...]  # for org charts / mind maps (first is the root)
    states: tuple[str, ...]  # for state diagrams
    documents: tuple[str, ...]  # document kinds for the "other" category
    topics: tuple[str, ...]  # "{measure}" / "{kind}" placeholders


M = Measure
DOMAINS: tuple[Domain, ...] = (
    Domain("food", ("chef", "food", "bbq", "barbecue", "bakery", "cook", "restaurant", "wine", "diet", "nutrition"),
           "Dish", ("Brisket Platter", "Pulled Pork", "Smoked Ribs", "Cornbread", "Mac and Cheese", "Coleslaw",
                    "Peach Cobbler", "Collard Greens", "Baked Beans", "Sweet Tea", "Croissant", "Pain au Chocolat",
                    "Baguette", "Fruit Tart", "Lemon Pie"),
           (M("Price", "$", 3, 28, 2), M("Weekly orders", "", 20, 400, additive=True), M("Calories", "kcal", 90, 1200),
            M("Rating", "/5", 2.5, 5, 1)),
           ("Receive order", "Check stock", "Prepare ingredients", "Smoke meat", "Plate dish", "Quality check",
            "Serve customer", "Collect payment"),
           ("Head Chef", "Sous Chef", "Pastry Chef", "Line Cook", "Prep Cook", "Dishwasher", "Server"),
           ("Ordered", "Preparing", "Cooking", "Ready", "Served", "Paid"),
           ("menu", "receipt", "recipe card"),
           ("{measure} of menu items", "Best-selling dishes by {measure}", "{measure} across the {kind} lineup")),
    Domain("sports", ("coach", "athlete", "football", "tennis", "cycling", "marathon", "league", "sport", "run"),
           "Athlete", ("Amara Okafor", "Liam Chen", "Sofia Rossi", "Jonas Berg", "Priya Nair", "Mateo Silva",
                       "Hannah Weber", "Kenji Sato", "Chloe Martin", "Diego Ramos", "Eva Novak", "Omar Haddad"),
           (M("Weekly distance", "km", 20, 160, 1, additive=True), M("Goals scored", "", 0, 30, additive=True), M("Average pace", "min/km", 3.5, 6.5, 2),
            M("Training hours", "h", 4, 20, 1, additive=True)),
           ("Warm up", "Stretch", "Interval sprints", "Tempo run", "Cool down", "Log session", "Review with coach"),
           ("Head Coach", "Assistant Coach", "Fitness Trainer", "Physio", "Team Captain", "Analyst"),
           ("Registered", "Training", "Selected", "Competing", "Injured", "Recovered"),
           ("match report", "training plan", "tournament schedule"),
           ("{measure} per athlete", "Season summary: {measure}", "Comparing {measure} across the squad")),
    Domain("science", ("physics", "teacher", "ecolog", "bird", "astronom", "lab", "chemist", "scien", "research"),
           "Species", ("Great Egret", "Black-tailed Godwit", "Common Tern", "Little Grebe", "Grey Heron",
                       "Avocet", "Curlew", "Oystercatcher", "Redshank", "Spoonbill", "Shelduck", "Dunlin"),
           (M("Individuals counted", "", 3, 250, additive=True), M("Nest sites", "", 1, 40, additive=True), M("Wingspan", "cm", 20, 190),
            M("Body mass", "g", 50, 2500)),
           ("Form hypothesis", "Design experiment", "Calibrate sensors", "Collect samples", "Record data",
            "Analyse results", "Peer review", "Publish findings"),
           ("Principal Investigator", "Postdoc", "PhD Student", "Lab Technician", "Field Assistant", "Data Manager"),
           ("Proposed", "Approved", "Running", "Paused", "Analysing", "Published"),
           ("lab worksheet", "field report", "observation log"),
           ("{measure} by {kind}", "Wetland survey: {measure}", "{measure} recorded this season")),
    Domain("business", ("business", "shop", "financ", "bank", "logistic", "startup", "invest", "sales", "market"),
           "Product", ("Stoneware Mug", "Glazed Bowl", "Serving Platter", "Tea Set", "Vase", "Planter",
                       "Espresso Cup", "Dinner Plate", "Candle Holder", "Salt Cellar", "Pitcher", "Butter Dish"),
           (M("Revenue", "k$", 5, 240, 1, additive=True), M("Units sold", "", 10, 900, additive=True), M("Profit margin", "%", 4, 48, 1),
            M("Return rate", "%", 0.5, 12, 1)),
           ("Receive purchase order", "Check inventory", "Pick items", "Pack shipment", "Create invoice",
            "Ship order", "Confirm delivery", "Close order"),
           ("CEO", "CFO", "Head of Sales", "Operations Manager", "Marketing Lead", "Accountant", "Warehouse Lead"),
           ("Draft", "Submitted", "Approved", "Shipped", "Delivered", "Closed"),
           ("invoice", "purchase order", "quarterly memo"),
           ("{measure} by {kind}", "Quarterly {measure}", "{measure} of the product line")),
    Domain("civic", ("city", "planner", "librar", "journalist", "election", "volunteer", "community", "transport"),
           "District", ("Riverside", "Old Town", "Harbor View", "Northgate", "Elm Park", "Westfield", "Millbrook",
                        "Southbank", "Cedar Hill", "Lakeside", "Eastwood", "Kingsbury"),
           (M("Daily riders", "", 800, 24000, additive=True), M("Turnout", "%", 21, 78, 1), M("Library loans", "", 150, 5200, additive=True),
            M("Volunteers", "", 5, 120, additive=True)),
           ("Submit request", "Verify residency", "Review application", "Public consultation", "Council vote",
            "Issue permit", "Notify applicant"),
           ("Mayor", "Deputy Mayor", "City Clerk", "Planning Director", "Transit Manager", "Budget Officer"),
           ("Submitted", "Under review", "Consultation", "Approved", "Rejected", "Archived"),
           ("meeting agenda", "notice", "programme flyer"),
           ("{measure} by {kind}", "{measure} across the city", "Neighbourhood {measure}")),
    Domain("health", ("nurse", "hospital", "patient", "physio", "health", "vaccin", "yoga", "clinic", "doctor"),
           "Ward", ("Cardiology", "Oncology", "Pediatrics", "Orthopedics", "Neurology", "Maternity", "Geriatrics",
                    "Emergency", "Dermatology", "Radiology", "Surgery", "Psychiatry"),
           (M("Patients admitted", "", 12, 320, additive=True), M("Average stay", "days", 1.2, 11, 1), M("Staff on shift", "", 4, 36, additive=True),
            M("Vaccination rate", "%", 40, 98, 1)),
           ("Patient arrives", "Triage", "Register", "Doctor assessment", "Run tests", "Treatment",
            "Discharge plan", "Follow-up call"),
           ("Medical Director", "Head Nurse", "Ward Manager", "Staff Nurse", "Physiotherapist", "Pharmacist"),
           ("Admitted", "Under observation", "In treatment", "Recovering", "Discharged", "Follow-up"),
           ("shift rota", "patient leaflet", "class timetable"),
           ("{measure} per {kind}", "Hospital activity: {measure}", "{measure} this quarter")),
    Domain("travel", ("travel", "hostel", "tour", "airline", "flight", "hotel", "trip", "guide"),
           "Destination", ("Kyoto", "Hanoi", "Chiang Mai", "Luang Prabang", "Siem Reap", "Bali", "Penang",
                           "Hoi An", "Nara", "Cebu", "Yogyakarta", "Kuala Lumpur"),
           (M("Visitors", "k", 12, 950, additive=True), M("Average nightly rate", "$", 9, 180), M("Flight delay", "min", 3, 75, 1),
            M("Guest rating", "/10", 6, 9.8, 1)),
           ("Book ticket", "Check in online", "Drop luggage", "Security check", "Board flight", "Arrive",
            "Collect luggage", "Transfer to hotel"),
           ("General Manager", "Front Office Manager", "Concierge", "Head of Housekeeping", "Tour Coordinator",
            "Receptionist"),
           ("Booked", "Confirmed", "Checked in", "Boarded", "Arrived", "Completed"),
           ("itinerary", "boarding pass", "hotel bill"),
           ("{measure} by {kind}", "Travel guide: {measure}", "{measure} in Southeast Asia")),
    Domain("tech", ("software", "engineer", "network", "data", "machine", "game", "developer", "it ", "server"),
           "Service", ("auth-api", "search", "payments", "checkout", "image-resizer", "notifications", "gateway",
                       "recommender", "inventory-db", "analytics", "chat", "billing"),
           (M("p95 latency", "ms", 12, 480), M("Requests per second", "", 50, 9000, additive=True), M("Error rate", "%", 0.1, 6, 2),
            M("CPU usage", "%", 8, 95, 1)),
           ("Commit code", "Run unit tests", "Build image", "Security scan", "Deploy to staging",
            "Integration tests", "Deploy to production", "Monitor"),
           ("CTO", "Engineering Manager", "Tech Lead", "Backend Engineer", "Frontend Engineer", "SRE", "QA Engineer"),
           ("Idle", "Queued", "Running", "Succeeded", "Failed", "Retrying"),
           ("incident report", "release notes", "on-call schedule"),
           ("{measure} per {kind}", "Service dashboard: {measure}", "{measure} across microservices")),
    Domain("arts", ("music", "museum", "film", "book", "art", "curator", "recital", "theat", "paint"),
           "Exhibit", ("Silk Road Tapestry", "Indigo Kimono", "Kente Cloth", "Paisley Shawl", "Batik Panel",
                       "Navajo Rug", "Ikat Robe", "Lace Collar", "Quilt of Gee's Bend", "Tartan Plaid", "Suzani",
                       "Mola Panel"),
           (M("Visitors", "", 120, 8800, additive=True), M("Insurance value", "k$", 8, 950, 1), M("Age", "years", 40, 900),
            M("Ticket sales", "", 30, 2400, additive=True)),
           ("Propose exhibit", "Secure loans", "Conserve items", "Design layout", "Install", "Open to public",
            "Pack and ship"),
           ("Director", "Chief Curator", "Conservator", "Registrar", "Exhibition Designer", "Education Officer"),
           ("Proposed", "In conservation", "On display", "On loan", "In storage", "Returned"),
           ("programme", "exhibition label", "ticket"),
           ("{measure} by {kind}", "Exhibition report: {measure}", "{measure} of the collection")),
)
BY_NAME = {d.name: d for d in DOMAINS}

PERIODS = {
    "years": tuple(str(y) for y in range(2012, 2025)),
    "quarters": ("Q1", "Q2", "Q3", "Q4"),
    "months": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "weekdays": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}

# organisations a document can come from: a domain's first words x last words
ORGS = {
    "food": (("Smoky", "Golden Oak", "Blue Door", "Hickory", "Maple Street", "Riverside", "Little Paris", "Ember"),
             ("Smokehouse", "Bakery", "Kitchen", "Food Truck", "Bistro", "Catering Co.")),
    "sports": (("Northside", "Valley", "Harbor City", "Summit", "Red Kite", "Alpine", "Lakeshore", "Eastfield"),
               ("Running Club", "Football League", "Tennis Academy", "Cycling Team", "Athletics", "Sports Centre")),
    "science": (("Coastal", "Hillcrest", "Westbrook", "Kestrel", "Marsh End", "Northern", "Clearwater", "Beacon"),
                ("Field Station", "High School Lab", "Observatory", "Chemistry Dept.", "Bird Observatory",
                 "Research Unit")),
    "business": (("Kiln & Co", "Harbor", "Brightline", "Copperfield", "Northwind", "Oakridge", "Bluewater",
                  "Summit"), ("Ceramics", "Regional Bank", "Logistics", "Ventures", "Trading", "Studio")),
    "civic": (("Riverside", "Old Town", "Elm Park", "Northgate", "Millbrook", "Cedar Hill", "Westfield", "Southbank"),
              ("Council", "Library", "Food Bank", "Transit Authority", "Community Centre", "Residents' Group")),
    "health": (("St. Anne's", "Lakeside", "Greenway", "Meadowbank", "Kingsbury", "Harbourview", "Linden", "Oakwood"),
               ("Hospital", "Clinic", "Physio Centre", "Yoga Studio", "Health Centre", "Medical Practice")),
    "travel": (("Lotus", "Bamboo", "Old Quarter", "Riverside", "Temple View", "Sunset", "Jade", "Paddy Field"),
               ("Hostel", "Tours", "Airways", "Guesthouse", "Travel Co.", "Hotel")),
    "tech": (("Bitwise", "Cloudline", "Northstar", "Packet", "Hexagon", "Lambda", "Bluefin", "Quartz"),
             ("Labs", "Systems", "Networks", "Games", "Analytics", "IT Services")),
    "arts": (("Silk Road", "Harmony", "Lantern", "Old Mill", "Crescent", "Indigo", "Willow", "Marigold"),
             ("Conservatory", "Museum", "Film Society", "Bookshop", "Gallery", "Theatre")),
}

PEOPLE = ("Alex Morgan", "Dana Whitfield", "Ravi Patel", "Mei Lin", "Carlos Ortega", "Ingrid Larsen",
          "Tomás Novak", "Aisha Bello", "Noah Fischer", "Yuki Tanaka", "Grace Osei", "Lucas Moreau",
          "Hana Kobayashi", "Samuel Reyes", "Freya Lund", "Arjun Mehta", "Zoe Papadakis", "Kwame Mensah")
STREETS = ("12 Harbor Road", "48 Elm Street", "7 Rue de la Paix", "233 King Avenue", "19 Mill Lane")


def domain_for(persona: str, domain: str | None, pick: int) -> Domain:
    """The persona's domain: given, else by keyword, else ``DOMAINS[pick % len]``."""
    if domain and domain in BY_NAME:
        return BY_NAME[domain]
    low = persona.lower()
    for d in DOMAINS:
        if any(k in low for k in d.keywords):
            return d
    return DOMAINS[pick % len(DOMAINS)]
