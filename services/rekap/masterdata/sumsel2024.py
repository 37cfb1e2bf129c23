"""Facts of the 2024 Pilkada in Sumatera Selatan (province 16), as KPU published them, for the derivation
(docs/operators.md, "Master data", says where each comes from)."""

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
# The pairs of each kabupaten/kota's race, in nomor urut order, as the sources named in sumsel-2024/SOURCES.md
# give them (academic and religious titles left out). A single pair runs against the kolom kosong.
REGENT_PAIRS = {
    "1601": ("Yudi Purna Nugraha - Yenny Elita", "Teddy Meilwansyah - Marjito Bachri"),
    "1602": ("M. Dja'far Shodiq - Abdiyanto", "Muchendi Mahzareki - Supriyanto"),
    "1603": (
        "Ahmad Rizali - Shinta Paramita Sari",
        "Edison - Sumarni",
        "Nasrun Umar - Lia Anggraini",
        "Ramlan Holdan - Ropi Alex Candra",
    ),
    "1604": ("Yulius Maulana - Budiarto Marsul", "Bursah Zarnubi - Widia Ningsih", "Lidyawati - Haryanto"),
    "1605": ("Ratna Machmud - Suprayitno", "Suwarti - Thamrin Hasan"),
    "1606": ("Lucianty - Syaparuddin", "M. Toha Tohet - Rohman"),
    "1607": ("Askolani - Netta Indian", "Slamet Somosentono - Alfi Novtriansyah Rustam"),
    "1608": ("Lanosin - M. Adi Nugraha Purna Yudha", "Fery Antoni - Herly Sunawan"),
    "1609": (
        "Hengki Irawan - Al Kadri",
        "Iwan Hermawan - Paisal Renopa",
        "Heri Martadinata - Wahab Nawawi",
        "Abusama - Misnadi",
    ),
    "1610": ("Panca Wijaya Akbar - Ardani",),
    "1611": ("Joncik Muhammad - Arifai (nomor urut 2 di surat suara)",),
    "1612": ("Devi Harianto - M. Ferdinand", "Asgianto - Iwan Tuaji", "Junaidi - Eduar", "Asri AG - Irwan"),
    "1613": ("M. Syarif Hidayat - Gusti Rohmani", "Devi Suhartoni - Junius Wahyudi", "Firsa Lakoni - Efriyansyah"),
    "1671": (
        "Fitrianti Agustinda - Nandriani Octarina",
        "Ratu Dewa - Prima Salam",
        "Yudha Pratomo Mahyuddin - Baharuddin",
    ),
    "1672": ("Hepy Safriani - Efsi Komar", "Alpian Maskoni - Alfikriansyah", "Ludi Oliansyah - Bertha Edhar"),
    "1673": ("Rodi Wijaya - Imam Senen", "Rachmat Hidayat (Yoppy Karim) - Rustam Effendi"),
    "1674": ("Arlan - Franky Nasril", "Andriansyah Fikri - Syamdakir", "Suryanti Ngesti Rahayu - Mat Amin"),
}
