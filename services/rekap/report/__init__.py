"""Documents for people: the recapitulation of a region and contest (D.Hasil), as CSV and printable HTML."""
