"""The shared protocol: typed models of the agent's HTTPS API, imported by the agent and the console alike."""

from pa_console.protocol.events import *  # noqa: F403
from pa_console.protocol.models import *  # noqa: F403
