"""A simulated district: households of Mông, Thái, Kinh, Dao, Mường and Khơ Mú residents.

Everything is generated (names from per-group syllable lists, numbers from their structures);
no real person's data is used. The population is the ground truth the source writers sample.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from dataclasses import dataclass, field

from etl import reference
from etl.text import fold

# Communes of Mường Lát (docs/domain.md#home-district) with a population weight and invented
# village names.
COMMUNES = {
    "14845": ("Mường Lát", 0.10, ["Khu 1", "Khu 2", "Khu 3", "Bản Lát", "Bản Pọng"]),
    "14848": ("Tam Chung", 0.14, ["Bản Tài Chánh", "Bản Poọng", "Bản Pá Búa", "Bản Suối Tút"]),
    "14854": ("Mường Lý", 0.14, ["Bản Cá Nọi", "Bản Sài Khao", "Bản Pù Quăn", "Bản Chim"]),
    "14857": ("Trung Lý", 0.20, ["Bản Pa Búa", "Bản Tà Cóm", "Bản Lìn", "Bản Cá Tớp", "Bản Xa Lung"]),
    "14860": ("Quang Chiểu", 0.10, ["Bản Poọng", "Bản Mìn", "Bản Pù Toong", "Bản Sáng"]),
    "14863": ("Pù Nhi", 0.13, ["Bản Pù Toong", "Bản Cang", "Bản Đoàn Kết", "Bản Nàng 1"]),
    "14864": ("Nhi Sơn", 0.07, ["Bản Pù Ngùa", "Bản Cặt", "Bản Hua Pù"]),
    "14866": ("Mường Chanh", 0.12, ["Bản Mường Chanh", "Bản Lốc Há", "Bản Ón", "Bản Na Hú"]),
}

_VILLAGE_WORDS = ["Đông", "Tây", "Nam", "Bắc", "Trung", "Thượng", "Hạ", "Tân", "Phú", "An",
                  "Hòa", "Bình", "Thịnh", "Quang", "Minh", "Lợi", "Yên", "Xuân", "Thọ", "Phúc",
                  "Lộc", "Thành", "Hưng", "Sơn", "Thủy", "Liên", "Kim", "Ngọc", "Vinh", "Long"]


@dataclass(frozen=True)
class Place:
    """What an address says of a commune: its name and type, its district and province."""

    name: str
    type: str  # Xã / Phường / Thị trấn
    district: str
    district_type: str  # Huyện / Thị xã / Thành phố
    province: str


@functools.cache
def _places_2024() -> dict[str, Place]:
    return {r["commune_code"]: Place(r["commune"], r["commune_type"], r["district"],
                                     r["district_type"], r["province"])
            for r in reference.admin_units_2024() if r["commune_code"]}


def place(code: str) -> Place:
    """The commune ``code`` as the writers put it in an address (Mường Lát's as always)."""
    if code in COMMUNES:
        return Place(COMMUNES[code][0], "Thị trấn" if code == "14845" else "Xã", "Mường Lát",
                     "Huyện", "Thanh Hóa")
    return _places_2024()[code]


def province_communes(province_code: str) -> dict[str, tuple[str, float, list[str]]]:
    """Every pre-2025 commune of a province, in the shape of :data:`COMMUNES`: equal weights,
    four to twelve invented villages ("Thôn Đông Hòa") drawn from the commune's own seed."""
    out: dict[str, tuple[str, float, list[str]]] = {}
    for code, p in sorted(_places_2024().items()):
        if _province_codes()[code] != province_code:
            continue
        rng = random.Random(f"villages:{code}")
        word = "Tổ dân phố" if p.type == "Phường" else rng.choice(["Thôn", "Thôn", "Làng", "Bản"])
        names = {f"{word} {rng.choice(_VILLAGE_WORDS)} {rng.choice(_VILLAGE_WORDS)}"
                 for _ in range(rng.randint(4, 12))}
        out[code] = (p.name, 1.0, sorted(names))
    if not out:
        raise ValueError(f"no commune of province {province_code!r} in the 2024 list")
    return out


@functools.cache
def _province_codes() -> dict[str, str]:
    return {r["commune_code"]: r["province_code"] for r in reference.admin_units_2024()
            if r["commune_code"]}


GROUPS = {  # GSO code: (weight, family names, male middles, female middles, male given, female given)
    "08": (0.55,
           ["Giàng", "Thào", "Vàng", "Sùng", "Lầu", "Hờ", "Mùa", "Lý", "Sồng", "Vừ", "Hạng", "Chá"],
           ["A", "A", "A", "Văn", ""], ["Thị", "Thị", ""],
           ["Páo", "Chứ", "Dế", "Sính", "Pó", "Tủa", "Lử", "Chông", "Sử", "Vả", "Nhìa", "Dình",
            "Khua", "Cha", "Tồng", "Sày", "Xá", "Mua", "Tú", "Chớ", "Vư", "Nủ", "Lồng", "Dủa",
            "Phử", "Chính", "Giống", "Cở", "Dùa", "Sáy", "Thề", "Vàng"],
           ["Mai", "Súa", "Dợ", "Mỷ", "Pà", "Sua", "Dua", "Mỉ", "Chu", "Xi", "Ly", "Say", "Nu",
            "Phềnh", "Dở", "Vá", "Chía", "Lỳ", "Mẩy", "Dính", "Lia", "Sùng", "Chơ", "Mỷ", "Ca"]),
    "03": (0.30,
           ["Lò", "Lương", "Hà", "Vi", "Phạm", "Lữ", "Ngân", "Cầm", "Lường", "Lục"],
           ["Văn", "Văn", "Văn", ""], ["Thị", "Thị", "Thị", ""],
           ["Xuân", "Thanh", "Hùng", "Bun", "Khăm", "Phong", "Lả", "Tiến", "Dũng", "Hiệp", "Tâm",
            "Khằm", "Ỏn", "Tính", "Vinh", "Chiến", "Thắng", "Phương", "Sơn", "Tuấn", "Doãn"],
           ["Ọi", "Hoa", "Xuân", "Thoa", "Thêm", "Diên", "Hiền", "Mai", "Hương", "Nga", "Thủy",
            "Hòa", "Xuyến", "Ơn", "Pâng", "Liên", "Nhung", "Hạnh", "Thơm", "Khuyên"]),
    "01": (0.08,
           ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đỗ", "Bùi", "Đặng", "Ngô"],
           ["Văn", "Đức", "Minh", "Hữu", "Văn"], ["Thị", "Thu", "Ngọc", "Thị"],
           ["Hùng", "Dũng", "Tuấn", "Hải", "Nam", "Long", "Quang", "Thành", "Huy", "Khánh"],
           ["Lan", "Hoa", "Hương", "Thủy", "Hòa", "Mai", "Hạnh", "Nga", "Trang", "Yến"]),
    "09": (0.03, ["Bàn", "Triệu", "Lý", "Đặng", "Phùng"], ["Văn", "Tài", "Phúc"], ["Thị", "Mùi"],
           ["Chàn", "Quẩy", "Sinh", "Phẩy", "Kiều", "Pham", "Lở"],
           ["Mẩy", "Nái", "Xiêm", "Chòi", "Mây", "Phin"]),
    "06": (0.02, ["Bùi", "Đinh", "Quách", "Hà", "Phạm"], ["Văn", "Văn"], ["Thị"],
           ["Thanh", "Hùng", "Khuê", "Tâm", "Luyện"], ["Thêm", "Nhàn", "Lụa", "Oanh"]),
    "29": (0.02, ["Vi", "Lò", "Lữ", "Quang", "Cụt"], ["Văn", ""], ["Thị", ""],
           ["Xiêng", "Khăm", "Bun", "Phăn"], ["Ọi", "Sen", "Pheng", "Bua"]),
}


@dataclass
class Resident:
    """One simulated person: the truth every source record of them is a view of."""

    resident_id: str
    family: str
    middle: str
    given: str
    sex: str
    birth: dt.date
    year_only: bool
    ethnicity: str
    commune: str
    village: str
    household: str
    relation: str
    personal_id: str | None = None
    social_insurance_code: str | None = None
    card_group: str = "DT"
    card_level: int = 2
    phone: str | None = None
    mother: Resident | None = None
    father: Resident | None = None
    head: Resident | None = None
    twin: bool = False
    facility_ids: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.family, self.middle, self.given) if p)

    def age(self, on: dt.date) -> int:
        return on.year - self.birth.year - ((on.month, on.day) < (self.birth.month, self.birth.day))


def _pick_weighted(rng: random.Random, items: dict) -> str:
    keys = list(items)
    return rng.choices(keys, weights=[items[k][0] if isinstance(items[k][0], float)
                                      else items[k][1] for k in keys])[0]


def _birth(rng: random.Random, year: int) -> dt.date:
    return dt.date(year, rng.randint(1, 12), rng.randint(1, 28))


def personal_id_for(rng: random.Random, birth_year: int, sex: str) -> str:
    g = (birth_year // 100 - 19) * 2 + (1 if sex == "F" else 0)
    return f"038{g}{birth_year % 100:02d}{rng.randint(0, 999999):06d}"


class Simulator:
    """Builds households until ``people`` residents exist; seeded and reproducible."""

    def __init__(self, people: int, seed: int, today: dt.date = dt.date(2025, 9, 1),
                 communes: dict[str, tuple[str, float, list[str]]] | None = None) -> None:
        self.communes = communes or COMMUNES
        self.rng = random.Random(seed)
        self.people = people
        self.today = today
        self.residents: list[Resident] = []
        self._used_pids: set[str] = set()
        self._used_codes: set[str] = set()

    def _name(self, group: str, sex: str, family: str | None = None) -> tuple[str, str, str]:
        _, families, male_mid, female_mid, male_given, female_given = GROUPS[group]
        family = family or self.rng.choice(families)
        middle = self.rng.choice(male_mid if sex == "M" else female_mid)
        given = self.rng.choice(male_given if sex == "M" else female_given)
        return family, middle, given

    def _new(self, group: str, sex: str, birth: dt.date, household: str, commune: str,
             village: str, relation: str, family: str | None = None) -> Resident:
        family, middle, given = self._name(group, sex, family)
        age = self.today.year - birth.year
        year_only = age > 45 and self.rng.random() < 0.6
        r = Resident(f"R{len(self.residents) + 1:06d}", family, middle, given, sex, birth,
                     year_only, group, commune, village, household, relation)
        has_pid = self.rng.random() < (0.92 if age >= 14 else 0.75)
        if has_pid:
            while True:
                pid = personal_id_for(self.rng, birth.year, sex)
                if pid not in self._used_pids:
                    self._used_pids.add(pid)
                    r.personal_id = pid
                    break
        if self.rng.random() < 0.88:
            while True:
                code = f"38{self.rng.randint(0, 99999999):08d}"
                if code not in self._used_codes:
                    self._used_codes.add(code)
                    r.social_insurance_code = code
                    break
            r.card_group = "TE" if age < 6 else "HS" if age < 18 else self.rng.choice(
                ["DT", "DT", "HN", "CN", "GD"])
            r.card_level = self.rng.choice([1, 2, 2, 3, 4])
        if age >= 18 and self.rng.random() < 0.55:
            r.phone = "0" + self.rng.choice(["3", "8", "9"]) + f"{self.rng.randint(0, 99999999):08d}"
        self.residents.append(r)
        return r

    def build(self) -> list[Resident]:
        rng = self.rng
        n_house = 0
        while len(self.residents) < self.people:
            n_house += 1
            commune = rng.choices(list(self.communes),
                                  weights=[c[1] for c in self.communes.values()])[0]
            village = rng.choice(self.communes[commune][2])
            group = rng.choices(list(GROUPS), weights=[g[0] for g in GROUPS.values()])[0]
            household = f"H{n_house:05d}"
            head_year = self.today.year - rng.randint(22, 75)
            head = self._new(group, "M", _birth(rng, head_year), household, commune, village,
                             "Chủ hộ")
            head.head = head
            members = [head]
            if rng.random() < 0.9:
                wife_year = min(head_year + rng.randint(-2, 6), self.today.year - 18)
                spouse_group = group if rng.random() < 0.9 else rng.choice(list(GROUPS))
                wife = self._new(spouse_group, "F", _birth(rng, wife_year), household, commune,
                                 village, "Vợ")
                members.append(wife)
            else:
                wife = None
            mother_year = wife.birth.year if wife else head_year
            n_children = rng.choices([0, 1, 2, 3, 4, 5, 6], weights=[1, 2, 3, 3, 3, 2, 1])[0]
            year = mother_year + rng.randint(18, 24)
            for _ in range(n_children):
                if year > self.today.year or len(self.residents) >= self.people:
                    break
                sex = rng.choice("MF")
                birth = _birth(rng, year)
                child = self._new(group, sex, birth, household, commune, village, "Con",
                                  family=head.family)
                child.father, child.mother, child.head = head, wife, head
                members.append(child)
                if rng.random() < 0.02 and len(self.residents) < self.people:
                    twin = self._new(group, rng.choice("MF"), birth, household, commune,
                                     village, "Con", family=head.family)
                    while fold(twin.given) == fold(child.given):  # parents name twins apart
                        twin.given = self._name(group, twin.sex)[2]
                    twin.father, twin.mother, twin.head, twin.twin, child.twin = (
                        head, wife, head, True, True)
                    twin.year_only = child.year_only = False
                    members.append(twin)
                year += rng.randint(1, 4)
            if rng.random() < 0.15 and len(self.residents) < self.people:
                sex = "F" if rng.random() < 0.6 else "M"
                elder = self._new(group, sex, _birth(rng, head_year - rng.randint(20, 30)),
                                  household, commune, village, "Mẹ" if sex == "F" else "Cha",
                                  family=head.family if sex == "M" else None)
                elder.head = head
            for m in members:
                m.head = head
        return self.residents[: self.people]
