"""The photo consumer (`rekap photos run`): stores each photo of a form's sheet once, by its digest."""
