"""The player page of the demo game (a template with plain JS; it logs in through the API)."""

from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def play(request):
    return render(request, "play/index.html")
