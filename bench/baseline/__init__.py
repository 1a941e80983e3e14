"""Plain Django and bare django-q2 doing what the product does, for the benchmarks to compare:
a CreateView with a ModelForm saving the same fields to one model, a constant JSON view, and a
django-q2 task doing one UPDATE."""
