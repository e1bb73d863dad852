"""SQLAlchemy models: the seed's seven tables, the existing-system tables, engine additions."""

from storage.models.base import Base
from storage.models.engine import (
    AuditLog,
    CallSessionEvent,
    ConsentRecordRow,
    InterviewProgressRow,
    Job,
    PhoneOptOut,
)
from storage.models.events import OutgoingEvent
from storage.models.existing import Business, BusinessUser, CustomerVerification, Store
from storage.models.rewards import RewardLedgerEntry
from storage.models.seed import (
    BusinessContextProfile,
    CallQualityMetric,
    ConversationTranscript,
    FeedbackCallSession,
    FraudDetectionResult,
    QualityAssessment,
    WeeklyAnalysisReport,
)

__all__ = [
    "AuditLog",
    "Base",
    "Business",
    "BusinessContextProfile",
    "BusinessUser",
    "CallQualityMetric",
    "CallSessionEvent",
    "ConsentRecordRow",
    "ConversationTranscript",
    "CustomerVerification",
    "FeedbackCallSession",
    "FraudDetectionResult",
    "InterviewProgressRow",
    "Job",
    "OutgoingEvent",
    "PhoneOptOut",
    "QualityAssessment",
    "RewardLedgerEntry",
    "Store",
    "WeeklyAnalysisReport",
]
