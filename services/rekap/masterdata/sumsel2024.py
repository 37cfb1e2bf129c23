"""Facts of the 2024 Pilkada in Sumatera Selatan (province 16), as KPU published them, for the derivation
(the README's "Master data" section says where each comes from)."""

from __future__ import annotations

PROVINCE = "16"
IDN_AREA_DATA_VERSION = "3.1.2"  # 17 / 241 / 3,258 for province 16; 4.0.1 lists one village more

# TPS per kabupaten/kota, KPU mapping of July 2024 (13,055 in all); the final count was 13,206.
TPS_JULY_2024 = {
    "1671": 2264,  # Kota Palembang
    "1607": 1356,  # Banyuasin
    "1602": 1229,  # Ogan Komering Ilir
    "1608": 1002,  # Ogan Komering Ulu Timur
    "1606": 1002,  # Musi Banyuasin
    "1603": 938,  # Muara Enim
    "1604": 749,  # Lahat
    "1609": 685,  # Ogan Komering Ulu Selatan
    "1610": 662,  # Ogan Ilir
    "1605": 628,  # Musi Rawas
    "1601": 563,  # Ogan Komering Ulu
    "1611": 530,  # Empat Lawang
    "1673": 322,  # Kota Lubuklinggau
    "1613": 310,  # Musi Rawas Utara
    "1612": 288,  # Penukal Abab Lematang Ilir
    "1674": 280,  # Kota Prabumulih
    "1672": 247,  # Kota Pagar Alam
}
TPS_FINAL = 13_206
DPT_MALE = 3_219_840
DPT_FEMALE = 3_162_899

GOVERNOR_PAIRS = {
    "1": "Herman Deru - Cik Ujang",
    "2": "Eddy Santana Putra - Riezky Aprilia",
    "3": "Mawardi Yahya - Anita Noeringhati",
}
# The regent/mayor races' real pairs are not in our sources: placeholder names, a synthetic number
# of pairs, and one race given a single pair against the kolom kosong so the data exercises it.
SINGLE_PAIR_RACE = "1674"
