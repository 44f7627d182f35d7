from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A player or a staff member. Staff carry `is_staff` and role groups (see users.roles)."""

    email = models.EmailField(unique=True)

    class Meta:
        ordering = ["id"]
