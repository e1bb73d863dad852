import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SessionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_STATUS_UNSPECIFIED: _ClassVar[SessionStatus]
    SESSION_STATUS_PENDING: _ClassVar[SessionStatus]
    SESSION_STATUS_IN_PROGRESS: _ClassVar[SessionStatus]
    SESSION_STATUS_COMPLETED: _ClassVar[SessionStatus]
    SESSION_STATUS_FAILED: _ClassVar[SessionStatus]
    SESSION_STATUS_ABANDONED: _ClassVar[SessionStatus]

class CheckType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHECK_TYPE_UNSPECIFIED: _ClassVar[CheckType]
    CHECK_TYPE_TIMING: _ClassVar[CheckType]
    CHECK_TYPE_CONTENT: _ClassVar[CheckType]
    CHECK_TYPE_CONTEXT: _ClassVar[CheckType]
    CHECK_TYPE_PATTERN: _ClassVar[CheckType]

class ReviewDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_DECISION_UNSPECIFIED: _ClassVar[ReviewDecision]
    REVIEW_DECISION_CONFIRMED_FRAUD: _ClassVar[ReviewDecision]
    REVIEW_DECISION_FALSE_POSITIVE: _ClassVar[ReviewDecision]
    REVIEW_DECISION_NEEDS_INVESTIGATION: _ClassVar[ReviewDecision]

class RewardState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REWARD_STATE_UNSPECIFIED: _ClassVar[RewardState]
    REWARD_STATE_PENDING: _ClassVar[RewardState]
    REWARD_STATE_UNDER_REVIEW: _ClassVar[RewardState]
    REWARD_STATE_APPROVED: _ClassVar[RewardState]
    REWARD_STATE_WITHHELD: _ClassVar[RewardState]
    REWARD_STATE_PAID: _ClassVar[RewardState]

class DeliveryState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELIVERY_STATE_UNSPECIFIED: _ClassVar[DeliveryState]
    DELIVERY_STATE_QUEUED: _ClassVar[DeliveryState]
    DELIVERY_STATE_RUNNING: _ClassVar[DeliveryState]
    DELIVERY_STATE_DELIVERED: _ClassVar[DeliveryState]
    DELIVERY_STATE_DEAD: _ClassVar[DeliveryState]
SESSION_STATUS_UNSPECIFIED: SessionStatus
SESSION_STATUS_PENDING: SessionStatus
SESSION_STATUS_IN_PROGRESS: SessionStatus
SESSION_STATUS_COMPLETED: SessionStatus
SESSION_STATUS_FAILED: SessionStatus
SESSION_STATUS_ABANDONED: SessionStatus
CHECK_TYPE_UNSPECIFIED: CheckType
CHECK_TYPE_TIMING: CheckType
CHECK_TYPE_CONTENT: CheckType
CHECK_TYPE_CONTEXT: CheckType
CHECK_TYPE_PATTERN: CheckType
REVIEW_DECISION_UNSPECIFIED: ReviewDecision
REVIEW_DECISION_CONFIRMED_FRAUD: ReviewDecision
REVIEW_DECISION_FALSE_POSITIVE: ReviewDecision
REVIEW_DECISION_NEEDS_INVESTIGATION: ReviewDecision
REWARD_STATE_UNSPECIFIED: RewardState
REWARD_STATE_PENDING: RewardState
REWARD_STATE_UNDER_REVIEW: RewardState
REWARD_STATE_APPROVED: RewardState
REWARD_STATE_WITHHELD: RewardState
REWARD_STATE_PAID: RewardState
DELIVERY_STATE_UNSPECIFIED: DeliveryState
DELIVERY_STATE_QUEUED: DeliveryState
DELIVERY_STATE_RUNNING: DeliveryState
DELIVERY_STATE_DELIVERED: DeliveryState
DELIVERY_STATE_DEAD: DeliveryState

class DispatchCallRequest(_message.Message):
    __slots__ = ("customer_verification_id", "store_id", "phone_number", "idempotency_key", "not_before")
    CUSTOMER_VERIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    customer_verification_id: str
    store_id: str
    phone_number: str
    idempotency_key: str
    not_before: _timestamp_pb2.Timestamp
    def __init__(self, customer_verification_id: _Optional[str] = ..., store_id: _Optional[str] = ..., phone_number: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DispatchCallResponse(_message.Message):
    __slots__ = ("session_id", "status", "already_existed")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ALREADY_EXISTED_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    status: SessionStatus
    already_existed: bool
    def __init__(self, session_id: _Optional[str] = ..., status: _Optional[_Union[SessionStatus, str]] = ..., already_existed: _Optional[bool] = ...) -> None: ...

class GetCallRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class WatchCallRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class CancelCallRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class CallSession(_message.Message):
    __slots__ = ("session_id", "customer_verification_id", "store_id", "status", "call_initiated_at", "call_connected_at", "call_ended_at", "duration_seconds", "retry_count", "failure_reason", "created_at", "expires_at")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_VERIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CALL_INITIATED_AT_FIELD_NUMBER: _ClassVar[int]
    CALL_CONNECTED_AT_FIELD_NUMBER: _ClassVar[int]
    CALL_ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RETRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    customer_verification_id: str
    store_id: str
    status: SessionStatus
    call_initiated_at: _timestamp_pb2.Timestamp
    call_connected_at: _timestamp_pb2.Timestamp
    call_ended_at: _timestamp_pb2.Timestamp
    duration_seconds: int
    retry_count: int
    failure_reason: str
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, session_id: _Optional[str] = ..., customer_verification_id: _Optional[str] = ..., store_id: _Optional[str] = ..., status: _Optional[_Union[SessionStatus, str]] = ..., call_initiated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., call_connected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., call_ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration_seconds: _Optional[int] = ..., retry_count: _Optional[int] = ..., failure_reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CallStatusEvent(_message.Message):
    __slots__ = ("session_id", "status", "occurred_at", "failure_reason", "retry_count")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    RETRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    status: SessionStatus
    occurred_at: _timestamp_pb2.Timestamp
    failure_reason: str
    retry_count: int
    def __init__(self, session_id: _Optional[str] = ..., status: _Optional[_Union[SessionStatus, str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failure_reason: _Optional[str] = ..., retry_count: _Optional[int] = ...) -> None: ...

class ListCallsRequest(_message.Message):
    __slots__ = ("store_id", "status", "created_after", "created_before", "page_size", "page_token")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    status: SessionStatus
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, store_id: _Optional[str] = ..., status: _Optional[_Union[SessionStatus, str]] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCallsResponse(_message.Message):
    __slots__ = ("calls", "next_page_token")
    CALLS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[CallSession]
    next_page_token: str
    def __init__(self, calls: _Optional[_Iterable[_Union[CallSession, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetAssessmentRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class Assessment(_message.Message):
    __slots__ = ("assessment_id", "session_id", "legitimacy_score", "depth_score", "usefulness_score", "overall_quality_score", "reward_percentage", "is_fraudulent", "fraud_reasons", "analysis_summary", "business_actionable_items", "analysis_metadata", "created_at")
    ASSESSMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LEGITIMACY_SCORE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_SCORE_FIELD_NUMBER: _ClassVar[int]
    USEFULNESS_SCORE_FIELD_NUMBER: _ClassVar[int]
    OVERALL_QUALITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    REWARD_PERCENTAGE_FIELD_NUMBER: _ClassVar[int]
    IS_FRAUDULENT_FIELD_NUMBER: _ClassVar[int]
    FRAUD_REASONS_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_ACTIONABLE_ITEMS_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_METADATA_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    assessment_id: str
    session_id: str
    legitimacy_score: float
    depth_score: float
    usefulness_score: float
    overall_quality_score: float
    reward_percentage: float
    is_fraudulent: bool
    fraud_reasons: _struct_pb2.Value
    analysis_summary: str
    business_actionable_items: _struct_pb2.Value
    analysis_metadata: _struct_pb2.Value
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, assessment_id: _Optional[str] = ..., session_id: _Optional[str] = ..., legitimacy_score: _Optional[float] = ..., depth_score: _Optional[float] = ..., usefulness_score: _Optional[float] = ..., overall_quality_score: _Optional[float] = ..., reward_percentage: _Optional[float] = ..., is_fraudulent: _Optional[bool] = ..., fraud_reasons: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., analysis_summary: _Optional[str] = ..., business_actionable_items: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., analysis_metadata: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetBusinessContextRequest(_message.Message):
    __slots__ = ("store_id",)
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    def __init__(self, store_id: _Optional[str] = ...) -> None: ...

class PutBusinessContextRequest(_message.Message):
    __slots__ = ("store_id", "operating_hours", "departments", "current_campaigns", "question_configuration", "baseline_facts", "expected_version")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATING_HOURS_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENTS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_CAMPAIGNS_FIELD_NUMBER: _ClassVar[int]
    QUESTION_CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FACTS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    operating_hours: _struct_pb2.Value
    departments: _struct_pb2.Value
    current_campaigns: _struct_pb2.Value
    question_configuration: _struct_pb2.Value
    baseline_facts: _struct_pb2.Value
    expected_version: int
    def __init__(self, store_id: _Optional[str] = ..., operating_hours: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., departments: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., current_campaigns: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., question_configuration: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., baseline_facts: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class BusinessContext(_message.Message):
    __slots__ = ("profile_id", "store_id", "context_version", "operating_hours", "departments", "current_campaigns", "question_configuration", "baseline_facts", "context_completeness_score", "last_updated_at", "updated_by")
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_VERSION_FIELD_NUMBER: _ClassVar[int]
    OPERATING_HOURS_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENTS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_CAMPAIGNS_FIELD_NUMBER: _ClassVar[int]
    QUESTION_CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FACTS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_COMPLETENESS_SCORE_FIELD_NUMBER: _ClassVar[int]
    LAST_UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    store_id: str
    context_version: int
    operating_hours: _struct_pb2.Value
    departments: _struct_pb2.Value
    current_campaigns: _struct_pb2.Value
    question_configuration: _struct_pb2.Value
    baseline_facts: _struct_pb2.Value
    context_completeness_score: float
    last_updated_at: _timestamp_pb2.Timestamp
    updated_by: str
    def __init__(self, profile_id: _Optional[str] = ..., store_id: _Optional[str] = ..., context_version: _Optional[int] = ..., operating_hours: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., departments: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., current_campaigns: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., question_configuration: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., baseline_facts: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., context_completeness_score: _Optional[float] = ..., last_updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[str] = ...) -> None: ...

class GetWeeklyReportRequest(_message.Message):
    __slots__ = ("store_id", "analysis_week")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_WEEK_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    analysis_week: str
    def __init__(self, store_id: _Optional[str] = ..., analysis_week: _Optional[str] = ...) -> None: ...

class GenerateWeeklyReportRequest(_message.Message):
    __slots__ = ("store_id", "analysis_week")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_WEEK_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    analysis_week: str
    def __init__(self, store_id: _Optional[str] = ..., analysis_week: _Optional[str] = ...) -> None: ...

class WeeklyReport(_message.Message):
    __slots__ = ("report_id", "store_id", "analysis_week", "total_feedback_count", "average_quality_score", "positive_trends", "negative_issues", "new_issues", "department_insights", "historical_comparison", "predictive_insights", "actionable_recommendations", "report_metadata", "generated_at")
    REPORT_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_WEEK_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FEEDBACK_COUNT_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_QUALITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_TRENDS_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_ISSUES_FIELD_NUMBER: _ClassVar[int]
    NEW_ISSUES_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_INSIGHTS_FIELD_NUMBER: _ClassVar[int]
    HISTORICAL_COMPARISON_FIELD_NUMBER: _ClassVar[int]
    PREDICTIVE_INSIGHTS_FIELD_NUMBER: _ClassVar[int]
    ACTIONABLE_RECOMMENDATIONS_FIELD_NUMBER: _ClassVar[int]
    REPORT_METADATA_FIELD_NUMBER: _ClassVar[int]
    GENERATED_AT_FIELD_NUMBER: _ClassVar[int]
    report_id: str
    store_id: str
    analysis_week: str
    total_feedback_count: int
    average_quality_score: float
    positive_trends: _struct_pb2.Value
    negative_issues: _struct_pb2.Value
    new_issues: _struct_pb2.Value
    department_insights: _struct_pb2.Value
    historical_comparison: _struct_pb2.Value
    predictive_insights: _struct_pb2.Value
    actionable_recommendations: _struct_pb2.Value
    report_metadata: _struct_pb2.Value
    generated_at: _timestamp_pb2.Timestamp
    def __init__(self, report_id: _Optional[str] = ..., store_id: _Optional[str] = ..., analysis_week: _Optional[str] = ..., total_feedback_count: _Optional[int] = ..., average_quality_score: _Optional[float] = ..., positive_trends: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., negative_issues: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., new_issues: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., department_insights: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., historical_comparison: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., predictive_insights: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., actionable_recommendations: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., report_metadata: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., generated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListFraudResultsRequest(_message.Message):
    __slots__ = ("store_id", "needs_review_only", "suspicious_only", "check_type", "page_size", "page_token")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    NEEDS_REVIEW_ONLY_FIELD_NUMBER: _ClassVar[int]
    SUSPICIOUS_ONLY_FIELD_NUMBER: _ClassVar[int]
    CHECK_TYPE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    needs_review_only: bool
    suspicious_only: bool
    check_type: CheckType
    page_size: int
    page_token: str
    def __init__(self, store_id: _Optional[str] = ..., needs_review_only: _Optional[bool] = ..., suspicious_only: _Optional[bool] = ..., check_type: _Optional[_Union[CheckType, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListFraudResultsResponse(_message.Message):
    __slots__ = ("results", "next_page_token")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[FraudResult]
    next_page_token: str
    def __init__(self, results: _Optional[_Iterable[_Union[FraudResult, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class FraudResult(_message.Message):
    __slots__ = ("fraud_result_id", "session_id", "check_type", "is_suspicious", "confidence_level", "fraud_indicators", "context_violations", "decision_reasoning", "manual_review_required", "reviewed_by", "review_decision", "created_at")
    FRAUD_RESULT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CHECK_TYPE_FIELD_NUMBER: _ClassVar[int]
    IS_SUSPICIOUS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    FRAUD_INDICATORS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    DECISION_REASONING_FIELD_NUMBER: _ClassVar[int]
    MANUAL_REVIEW_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    REVIEWED_BY_FIELD_NUMBER: _ClassVar[int]
    REVIEW_DECISION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    fraud_result_id: str
    session_id: str
    check_type: CheckType
    is_suspicious: bool
    confidence_level: float
    fraud_indicators: _struct_pb2.Value
    context_violations: _struct_pb2.Value
    decision_reasoning: str
    manual_review_required: bool
    reviewed_by: str
    review_decision: ReviewDecision
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, fraud_result_id: _Optional[str] = ..., session_id: _Optional[str] = ..., check_type: _Optional[_Union[CheckType, str]] = ..., is_suspicious: _Optional[bool] = ..., confidence_level: _Optional[float] = ..., fraud_indicators: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., context_violations: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., decision_reasoning: _Optional[str] = ..., manual_review_required: _Optional[bool] = ..., reviewed_by: _Optional[str] = ..., review_decision: _Optional[_Union[ReviewDecision, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReviewFraudResultRequest(_message.Message):
    __slots__ = ("fraud_result_id", "decision")
    FRAUD_RESULT_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    fraud_result_id: str
    decision: ReviewDecision
    def __init__(self, fraud_result_id: _Optional[str] = ..., decision: _Optional[_Union[ReviewDecision, str]] = ...) -> None: ...

class EraseCustomerDataRequest(_message.Message):
    __slots__ = ("phone_number",)
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    phone_number: str
    def __init__(self, phone_number: _Optional[str] = ...) -> None: ...

class EraseCustomerDataResponse(_message.Message):
    __slots__ = ("affected_rows",)
    class AffectedRowsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    AFFECTED_ROWS_FIELD_NUMBER: _ClassVar[int]
    affected_rows: _containers.ScalarMap[str, int]
    def __init__(self, affected_rows: _Optional[_Mapping[str, int]] = ...) -> None: ...

class ExportCustomerDataRequest(_message.Message):
    __slots__ = ("phone_number",)
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    phone_number: str
    def __init__(self, phone_number: _Optional[str] = ...) -> None: ...

class ExportCustomerDataResponse(_message.Message):
    __slots__ = ("document_json",)
    DOCUMENT_JSON_FIELD_NUMBER: _ClassVar[int]
    document_json: str
    def __init__(self, document_json: _Optional[str] = ...) -> None: ...

class PutStoreRequest(_message.Message):
    __slots__ = ("store_id", "business_id", "name", "timezone", "business_name", "currency")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    business_id: str
    name: str
    timezone: str
    business_name: str
    currency: str
    def __init__(self, store_id: _Optional[str] = ..., business_id: _Optional[str] = ..., name: _Optional[str] = ..., timezone: _Optional[str] = ..., business_name: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...

class Store(_message.Message):
    __slots__ = ("store_id", "business_id", "name", "timezone", "currency")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    business_id: str
    name: str
    timezone: str
    currency: str
    def __init__(self, store_id: _Optional[str] = ..., business_id: _Optional[str] = ..., name: _Optional[str] = ..., timezone: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...

class PutVerificationRequest(_message.Message):
    __slots__ = ("customer_verification_id", "store_id", "phone_number", "purchase_time", "purchase_amount", "verified_at")
    CUSTOMER_VERIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_TIME_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_AT_FIELD_NUMBER: _ClassVar[int]
    customer_verification_id: str
    store_id: str
    phone_number: str
    purchase_time: _timestamp_pb2.Timestamp
    purchase_amount: str
    verified_at: _timestamp_pb2.Timestamp
    def __init__(self, customer_verification_id: _Optional[str] = ..., store_id: _Optional[str] = ..., phone_number: _Optional[str] = ..., purchase_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., purchase_amount: _Optional[str] = ..., verified_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Verification(_message.Message):
    __slots__ = ("customer_verification_id", "store_id", "purchase_time", "purchase_amount", "verified_at")
    CUSTOMER_VERIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_TIME_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_AT_FIELD_NUMBER: _ClassVar[int]
    customer_verification_id: str
    store_id: str
    purchase_time: _timestamp_pb2.Timestamp
    purchase_amount: str
    verified_at: _timestamp_pb2.Timestamp
    def __init__(self, customer_verification_id: _Optional[str] = ..., store_id: _Optional[str] = ..., purchase_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., purchase_amount: _Optional[str] = ..., verified_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Reward(_message.Message):
    __slots__ = ("reward_id", "session_id", "store_id", "state", "state_reason", "purchase_amount", "currency", "reward_percentage", "amount", "created_at", "updated_at", "settlement_reference", "settled_by", "paid_at", "assessment_id")
    REWARD_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    REWARD_PERCENTAGE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    SETTLED_BY_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_FIELD_NUMBER: _ClassVar[int]
    ASSESSMENT_ID_FIELD_NUMBER: _ClassVar[int]
    reward_id: str
    session_id: str
    store_id: str
    state: RewardState
    state_reason: str
    purchase_amount: str
    currency: str
    reward_percentage: str
    amount: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    settlement_reference: str
    settled_by: str
    paid_at: _timestamp_pb2.Timestamp
    assessment_id: str
    def __init__(self, reward_id: _Optional[str] = ..., session_id: _Optional[str] = ..., store_id: _Optional[str] = ..., state: _Optional[_Union[RewardState, str]] = ..., state_reason: _Optional[str] = ..., purchase_amount: _Optional[str] = ..., currency: _Optional[str] = ..., reward_percentage: _Optional[str] = ..., amount: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settlement_reference: _Optional[str] = ..., settled_by: _Optional[str] = ..., paid_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., assessment_id: _Optional[str] = ...) -> None: ...

class ListRewardsRequest(_message.Message):
    __slots__ = ("store_id", "state", "created_after", "created_before", "page_size", "page_token")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    state: RewardState
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, store_id: _Optional[str] = ..., state: _Optional[_Union[RewardState, str]] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRewardsResponse(_message.Message):
    __slots__ = ("rewards", "next_page_token")
    REWARDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    rewards: _containers.RepeatedCompositeFieldContainer[Reward]
    next_page_token: str
    def __init__(self, rewards: _Optional[_Iterable[_Union[Reward, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SettleRewardsRequest(_message.Message):
    __slots__ = ("session_ids", "settlement_reference")
    SESSION_IDS_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    session_ids: _containers.RepeatedScalarFieldContainer[str]
    settlement_reference: str
    def __init__(self, session_ids: _Optional[_Iterable[str]] = ..., settlement_reference: _Optional[str] = ...) -> None: ...

class SettleRewardsResponse(_message.Message):
    __slots__ = ("rewards",)
    REWARDS_FIELD_NUMBER: _ClassVar[int]
    rewards: _containers.RepeatedCompositeFieldContainer[Reward]
    def __init__(self, rewards: _Optional[_Iterable[_Union[Reward, _Mapping]]] = ...) -> None: ...

class GetRewardTotalsRequest(_message.Message):
    __slots__ = ("store_id", "since", "until")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    def __init__(self, store_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RewardTotal(_message.Message):
    __slots__ = ("state", "currency", "entries", "amount")
    STATE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    state: RewardState
    currency: str
    entries: int
    amount: str
    def __init__(self, state: _Optional[_Union[RewardState, str]] = ..., currency: _Optional[str] = ..., entries: _Optional[int] = ..., amount: _Optional[str] = ...) -> None: ...

class RewardTotals(_message.Message):
    __slots__ = ("store_id", "since", "until", "totals")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    totals: _containers.RepeatedCompositeFieldContainer[RewardTotal]
    def __init__(self, store_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., totals: _Optional[_Iterable[_Union[RewardTotal, _Mapping]]] = ...) -> None: ...

class ListWeeklyReportsRequest(_message.Message):
    __slots__ = ("store_id", "from_week", "to_week", "page_size", "page_token")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_WEEK_FIELD_NUMBER: _ClassVar[int]
    TO_WEEK_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    from_week: str
    to_week: str
    page_size: int
    page_token: str
    def __init__(self, store_id: _Optional[str] = ..., from_week: _Optional[str] = ..., to_week: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListWeeklyReportsResponse(_message.Message):
    __slots__ = ("reports", "next_page_token")
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[WeeklyReport]
    next_page_token: str
    def __init__(self, reports: _Optional[_Iterable[_Union[WeeklyReport, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetStoreStatisticsRequest(_message.Message):
    __slots__ = ("store_id", "since", "until")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    def __init__(self, store_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FraudCheckStatistics(_message.Message):
    __slots__ = ("check_type", "total", "suspicious", "manual_review", "confirmed_fraud", "false_positive")
    CHECK_TYPE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    SUSPICIOUS_FIELD_NUMBER: _ClassVar[int]
    MANUAL_REVIEW_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_FRAUD_FIELD_NUMBER: _ClassVar[int]
    FALSE_POSITIVE_FIELD_NUMBER: _ClassVar[int]
    check_type: CheckType
    total: int
    suspicious: int
    manual_review: int
    confirmed_fraud: int
    false_positive: int
    def __init__(self, check_type: _Optional[_Union[CheckType, str]] = ..., total: _Optional[int] = ..., suspicious: _Optional[int] = ..., manual_review: _Optional[int] = ..., confirmed_fraud: _Optional[int] = ..., false_positive: _Optional[int] = ...) -> None: ...

class CallQualityStatistics(_message.Message):
    __slots__ = ("connection_quality", "calls", "avg_latency_ms", "avg_packet_loss_percentage")
    CONNECTION_QUALITY_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    AVG_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    AVG_PACKET_LOSS_PERCENTAGE_FIELD_NUMBER: _ClassVar[int]
    connection_quality: str
    calls: int
    avg_latency_ms: float
    avg_packet_loss_percentage: float
    def __init__(self, connection_quality: _Optional[str] = ..., calls: _Optional[int] = ..., avg_latency_ms: _Optional[float] = ..., avg_packet_loss_percentage: _Optional[float] = ...) -> None: ...

class StoreStatistics(_message.Message):
    __slots__ = ("store_id", "since", "until", "calls_by_status", "assessed_calls", "average_quality", "average_reward_percentage", "fraudulent_calls", "fraud", "call_quality", "rewards")
    class CallsByStatusEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    CALLS_BY_STATUS_FIELD_NUMBER: _ClassVar[int]
    ASSESSED_CALLS_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_QUALITY_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_REWARD_PERCENTAGE_FIELD_NUMBER: _ClassVar[int]
    FRAUDULENT_CALLS_FIELD_NUMBER: _ClassVar[int]
    FRAUD_FIELD_NUMBER: _ClassVar[int]
    CALL_QUALITY_FIELD_NUMBER: _ClassVar[int]
    REWARDS_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    calls_by_status: _containers.ScalarMap[str, int]
    assessed_calls: int
    average_quality: float
    average_reward_percentage: float
    fraudulent_calls: int
    fraud: _containers.RepeatedCompositeFieldContainer[FraudCheckStatistics]
    call_quality: _containers.RepeatedCompositeFieldContainer[CallQualityStatistics]
    rewards: _containers.RepeatedCompositeFieldContainer[RewardTotal]
    def __init__(self, store_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., calls_by_status: _Optional[_Mapping[str, int]] = ..., assessed_calls: _Optional[int] = ..., average_quality: _Optional[float] = ..., average_reward_percentage: _Optional[float] = ..., fraudulent_calls: _Optional[int] = ..., fraud: _Optional[_Iterable[_Union[FraudCheckStatistics, _Mapping]]] = ..., call_quality: _Optional[_Iterable[_Union[CallQualityStatistics, _Mapping]]] = ..., rewards: _Optional[_Iterable[_Union[RewardTotal, _Mapping]]] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ("after_cursor", "after_event_id", "from_oldest", "types", "store_id")
    AFTER_CURSOR_FIELD_NUMBER: _ClassVar[int]
    AFTER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_OLDEST_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    after_cursor: str
    after_event_id: str
    from_oldest: bool
    types: _containers.RepeatedScalarFieldContainer[str]
    store_id: str
    def __init__(self, after_cursor: _Optional[str] = ..., after_event_id: _Optional[str] = ..., from_oldest: _Optional[bool] = ..., types: _Optional[_Iterable[str]] = ..., store_id: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("id", "type", "occurred_at", "store_id", "subject", "version", "data", "cursor")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: str
    occurred_at: _timestamp_pb2.Timestamp
    store_id: str
    subject: str
    version: int
    data: _struct_pb2.Struct
    cursor: str
    def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., store_id: _Optional[str] = ..., subject: _Optional[str] = ..., version: _Optional[int] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., cursor: _Optional[str] = ...) -> None: ...

class Delivery(_message.Message):
    __slots__ = ("delivery_id", "event_id", "event_type", "store_id", "endpoint", "state", "attempts", "last_error", "finished_at")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    delivery_id: int
    event_id: str
    event_type: str
    store_id: str
    endpoint: str
    state: DeliveryState
    attempts: int
    last_error: str
    finished_at: _timestamp_pb2.Timestamp
    def __init__(self, delivery_id: _Optional[int] = ..., event_id: _Optional[str] = ..., event_type: _Optional[str] = ..., store_id: _Optional[str] = ..., endpoint: _Optional[str] = ..., state: _Optional[_Union[DeliveryState, str]] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListDeadDeliveriesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDeadDeliveriesResponse(_message.Message):
    __slots__ = ("deliveries", "next_page_token")
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[Delivery]
    next_page_token: str
    def __init__(self, deliveries: _Optional[_Iterable[_Union[Delivery, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RetryDeliveryRequest(_message.Message):
    __slots__ = ("delivery_id", "note")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    delivery_id: int
    note: str
    def __init__(self, delivery_id: _Optional[int] = ..., note: _Optional[str] = ...) -> None: ...
