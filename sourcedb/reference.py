"""Fixed reference data the synthetic PetPro generators draw from.

Cities with their countries and currencies, species and breeds, service catalogue templates
with prices, user agents by device class, activity descriptions and first/last names. Kept as
plain tuples (not Faker) so that generated data is byte-identical across library versions.
Descriptions are generic text: they never contain a name or an e-mail address.
"""

from __future__ import annotations

# (city, state, country, currency, weight) — weight ~ share of customers living there.
CITIES: tuple[tuple[str, str, str, str, float], ...] = (
    ("New York", "NY", "United States", "USD", 9.0),
    ("Los Angeles", "CA", "United States", "USD", 7.0),
    ("Chicago", "IL", "United States", "USD", 5.0),
    ("Houston", "TX", "United States", "USD", 4.0),
    ("Phoenix", "AZ", "United States", "USD", 3.0),
    ("Seattle", "WA", "United States", "USD", 3.0),
    ("Austin", "TX", "United States", "USD", 2.5),
    ("Denver", "CO", "United States", "USD", 2.5),
    ("Boston", "MA", "United States", "USD", 2.5),
    ("Miami", "FL", "United States", "USD", 2.5),
    ("Toronto", "ON", "Canada", "CAD", 4.0),
    ("Vancouver", "BC", "Canada", "CAD", 2.5),
    ("Montreal", "QC", "Canada", "CAD", 2.0),
    ("London", "England", "United Kingdom", "GBP", 6.0),
    ("Manchester", "England", "United Kingdom", "GBP", 2.0),
    ("Edinburgh", "Scotland", "United Kingdom", "GBP", 1.5),
    ("Berlin", "Berlin", "Germany", "EUR", 3.0),
    ("Munich", "Bavaria", "Germany", "EUR", 2.0),
    ("Paris", "Île-de-France", "France", "EUR", 3.0),
    ("Lyon", "Auvergne-Rhône-Alpes", "France", "EUR", 1.2),
    ("Madrid", "Community of Madrid", "Spain", "EUR", 2.0),
    ("Barcelona", "Catalonia", "Spain", "EUR", 1.8),
    ("Amsterdam", "North Holland", "Netherlands", "EUR", 1.5),
    ("Dublin", "Leinster", "Ireland", "EUR", 1.2),
)

# Price level of a country relative to the US (in its own currency).
CURRENCY_PRICE_FACTOR: dict[str, float] = {"USD": 1.0, "CAD": 1.3, "GBP": 0.8, "EUR": 0.92}

SPECIES: tuple[tuple[str, float], ...] = (
    ("dog", 0.52),
    ("cat", 0.33),
    ("bird", 0.04),
    ("fish", 0.03),
    ("reptile", 0.02),
    ("small_mammal", 0.05),
    ("other", 0.01),
)

BREEDS: dict[str, tuple[str, ...]] = {
    "dog": (
        "Labrador Retriever",
        "Golden Retriever",
        "French Bulldog",
        "German Shepherd",
        "Poodle",
        "Beagle",
        "Dachshund",
        "Border Collie",
        "Mixed",
    ),
    "cat": ("Domestic Shorthair", "Maine Coon", "Siamese", "Ragdoll", "British Shorthair", "Mixed"),
    "bird": ("Budgerigar", "Cockatiel", "Canary", "Parrot"),
    "fish": ("Goldfish", "Betta", "Guppy"),
    "reptile": ("Bearded Dragon", "Leopard Gecko", "Corn Snake", "Tortoise"),
    "small_mammal": ("Rabbit", "Guinea Pig", "Hamster", "Ferret"),
    "other": ("Other",),
}

# Typical adult weight range in kg, by species.
WEIGHT_KG: dict[str, tuple[float, float]] = {
    "dog": (4.0, 45.0),
    "cat": (2.5, 7.5),
    "bird": (0.03, 0.9),
    "fish": (0.01, 0.4),
    "reptile": (0.05, 8.0),
    "small_mammal": (0.1, 3.0),
    "other": (0.1, 10.0),
}

PET_NAMES: tuple[str, ...] = (
    "Bella", "Max", "Luna", "Charlie", "Lucy", "Cooper", "Daisy", "Milo", "Bailey", "Coco",
    "Rocky", "Nala", "Oliver", "Simba", "Loki", "Pepper", "Ziggy", "Olive", "Biscuit", "Mango",
)  # fmt: skip

FIRST_NAMES: tuple[str, ...] = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Daniel", "Karen", "Lukas", "Emma", "Noah", "Mia", "Leon", "Hannah", "Hugo", "Chloé",
    "Lucía", "Mateo", "Oliver", "Amelia", "Liam", "Olivia", "Ethan", "Sophie", "Aisha", "Wei",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martin",
    "Müller", "Schmidt", "Dubois", "Moreau", "García", "Fernández", "Taylor", "Wilson", "Evans",
    "Thomas", "Roberts", "Tremblay", "Gagnon", "Murphy", "Kelly", "de Jong", "Jansen", "Chen",
)  # fmt: skip

STREETS: tuple[str, ...] = (
    "Main St", "Oak Ave", "Maple Rd", "High Street", "Station Road", "Park Lane", "Elm St",
    "Cedar Blvd", "Church Road", "Lake Drive", "Hauptstraße", "Rue de la Paix", "Calle Mayor",
)  # fmt: skip

# category -> (service names, base price in USD, typical duration in minutes)
SERVICE_CATALOGUE: dict[str, tuple[tuple[str, ...], float, int]] = {
    "grooming": (("Full Groom", "Bath & Brush", "Nail Trim", "De-shedding Treatment"), 55.0, 90),
    "veterinary": (("Wellness Exam", "Vaccination", "Dental Cleaning", "Consultation"), 85.0, 30),
    "boarding": (("Overnight Boarding", "Weekend Boarding", "Luxury Suite Night"), 60.0, 1440),
    "daycare": (("Full-day Daycare", "Half-day Daycare"), 35.0, 480),
    "training": (("Puppy Class", "Obedience Session", "Behaviour Consultation"), 70.0, 60),
    "walking": (("30-minute Walk", "60-minute Walk", "Group Walk"), 22.0, 45),
    "other": (("Pet Taxi", "Pet Photography", "Pet Sitting Visit"), 40.0, 60),
}
# Share of bookings per category.
CATEGORY_WEIGHTS: dict[str, float] = {
    "grooming": 0.26,
    "veterinary": 0.17,
    "boarding": 0.1,
    "daycare": 0.14,
    "training": 0.08,
    "walking": 0.2,
    "other": 0.05,
}

VENDOR_WORDS: tuple[str, ...] = (
    "Happy Paws", "Furry Friends", "Pawfect", "Wag & Co", "Whiskers", "Tail Waggers",
    "Good Boy", "Purrfect Care", "Bark Avenue", "Critter Comfort", "The Pet Spot", "Paws Place",
)  # fmt: skip

# (device class, user agent, weight). Device classes: ios_app, android_app, mobile_web,
# tablet, desktop. ua-parser recognises all of them.
USER_AGENTS: tuple[tuple[str, str, float], ...] = (
    ("ios_app", "PetPro/4.12.0 (iPhone; iOS 17.5.1) CFNetwork/1494.0.7 Darwin/23.4.0", 10.0),
    ("ios_app", "PetPro/4.11.2 (iPhone; iOS 16.7.8) CFNetwork/1410.1 Darwin/22.6.0", 5.0),
    ("ios_app", "PetPro/4.12.0 (iPhone; iOS 18.1) CFNetwork/1568.200.51 Darwin/24.1.0", 6.0),
    (
        "android_app",
        "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UQ1A.240205.004) PetPro/4.12.0",
        5.0,
    ),
    (
        "android_app",
        "Dalvik/2.1.0 (Linux; U; Android 13; SM-S911B Build/TP1A.220624.014) PetPro/4.11.2",
        6.0,
    ),
    (
        "android_app",
        "Dalvik/2.1.0 (Linux; U; Android 12; M2101K6G Build/SKQ1.210908.001) PetPro/4.10.0",
        3.0,
    ),
    (
        "mobile_web",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        6.0,
    ),
    (
        "mobile_web",
        "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.6367.82 Mobile Safari/537.36",
        5.0,
    ),
    (
        "mobile_web",
        "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-A536B) AppleWebKit/537.36 (KHTML, like "
        "Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
        3.0,
    ),
    (
        "tablet",
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        3.0,
    ),
    (
        "tablet",
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/123.0.0.0 Safari/537.36",
        1.5,
    ),
    (
        "desktop",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        12.0,
    ),
    (
        "desktop",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.4.1 Safari/605.1.15",
        6.0,
    ),
    (
        "desktop",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
        3.0,
    ),
    (
        "desktop",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67",
        3.0,
    ),
    (
        "desktop",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/123.0.0.0 Safari/537.36",
        1.0,
    ),
)

DESCRIPTIONS: dict[str, str] = {
    "login": "User signed in",
    "logout": "User signed out",
    "profile_update": "Profile details updated",
    "password_changed": "Password changed",
    "email_verified": "E-mail address verified",
    "booking_created": "Booking created",
    "booking_updated": "Booking status updated",
    "booking_cancelled": "Booking cancelled",
    "payment_made": "Payment completed",
    "payment_refunded": "Payment refunded",
    "pet_created": "Pet profile created",
    "pet_updated": "Pet profile updated",
    "pet_removed": "Pet profile removed",
    "review_submitted": "Review submitted",
    "address_added": "Address added",
    "address_updated": "Address updated",
    "address_removed": "Address removed",
    "notification_settings_updated": "Notification preferences changed",
    "account_created": "Account created",
    "account_deactivated": "Account deactivated",
    "account_reactivated": "Account reactivated",
}

PROFILE_FIELDS: tuple[str, ...] = ("phone", "preferred_language", "last_name", "date_of_birth")

CANCELLATION_REASONS: tuple[str, ...] = (
    "Schedule conflict",
    "Pet unwell",
    "Found another provider",
    "Vendor unavailable",
    "Changed plans",
    "Weather",
)

LANGUAGES: dict[str, tuple[str, ...]] = {
    "United States": ("en", "en", "en", "es"),
    "Canada": ("en", "en", "fr"),
    "United Kingdom": ("en",),
    "Germany": ("de", "de", "en"),
    "France": ("fr", "fr", "en"),
    "Spain": ("es", "es", "en"),
    "Netherlands": ("nl", "en"),
    "Ireland": ("en",),
}

# Relative activity level by local hour of day (0..23) and ISO weekday (Mon..Sun).
HOUR_WEIGHTS: tuple[float, ...] = (
    0.6, 0.3, 0.2, 0.15, 0.15, 0.3, 1.0, 2.2, 3.4, 3.8, 3.6, 3.5,
    4.0, 4.2, 3.6, 3.4, 3.6, 4.2, 5.0, 5.8, 6.2, 5.4, 3.6, 1.6,
)  # fmt: skip
WEEKDAY_WEIGHTS: tuple[float, ...] = (1.0, 0.95, 0.95, 0.97, 0.9, 1.15, 1.25)
# Signups lean towards the start of the week and Sunday evening browsing.
SIGNUP_WEEKDAY_WEIGHTS: tuple[float, ...] = (1.2, 1.05, 1.0, 0.95, 0.85, 0.9, 1.1)
