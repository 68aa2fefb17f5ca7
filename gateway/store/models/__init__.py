"""The central store's models, one module per domain; import from here."""

from gateway.store.models.activities import Enrollment, Post, Project, ProjectGram
from gateway.store.models.clients import Client, ClientToken
from gateway.store.models.console import (Alert, AlertRule, ConsoleAccount,
                                           ConsoleAudit)
from gateway.store.models.common import UTCDateTime, split_region, utcnow
from gateway.store.models.exchange import (BlobChunk, ClientKey, IdempotencyKey, MessageLog,
                                            RequestNonce)
from gateway.store.models.hours import (Certificate, Commendation, Complaint, Dispute,
                                        Evaluation, ServiceRecord, Training)
from gateway.store.models.meta import Change, FederationHome, GatewayMeta, NumberSequence
from gateway.store.models.people import Team, TeamMember, Volunteer, VolunteerSource
from gateway.store.models.sync import DeadLetter, SyncCursor, SyncFlag, SyncRun, SyncSource
from gateway.store.models.stats import (HoursProvinceTotal, HoursTotal, PendingAggregate,
                                        VolunteerCount, VolunteerProvinceCount)

__all__ = [
    "BlobChunk", "Certificate", "Change", "Client", "ClientKey", "ClientToken", "Commendation", "Complaint", "Dispute",
    "Enrollment", "Evaluation", "GatewayMeta", "HoursTotal", "IdempotencyKey", "MessageLog",
    "NumberSequence", "Post", "Project", "ProjectGram",
    "RequestNonce", "ServiceRecord", "Team", "TeamMember", "Training", "UTCDateTime", "Volunteer",
    "VolunteerCount", "VolunteerSource", "split_region", "utcnow",
    "HoursProvinceTotal", "VolunteerProvinceCount", "PendingAggregate",
    "DeadLetter", "SyncCursor", "SyncFlag", "SyncRun", "SyncSource",
    "Alert", "AlertRule", "ConsoleAccount", "ConsoleAudit",
    "FederationHome",
]
