"""The fixed vocabularies of signed bodies: no field of a transaction is free text (#11), so
every word a person would otherwise type is a code from here, with Chinese and English labels
for the screens that show it. A note that needs words travels through the vault, with only
its hash (``note_hash``) on the log.
"""

PENSION_CLASSES = frozenset({"pension_account", "contribution_history"})
HEALTH_CLASSES = frozenset({"medical_insurance_record", "health_file_summary", "test_result"})
DATA_CLASSES = PENSION_CLASSES | HEALTH_CLASSES

AGENCY_KINDS = frozenset(
    {
        "social_security_bureau",
        "medical_insurance_bureau",
        "hospital",
        "primary_clinic",
        "health_commission",
        "auditor",
    }
)
"""A social-security bureau (社会保险事业管理中心) runs the pension schemes; a medical-insurance
bureau (医疗保障局) the medical insurance schemes, since the 2018 reform a separate agency; a
primary clinic (基层医疗卫生机构: township health centres, community health service centres)
keeps residents' health files (健康档案), as does the health commission's platform
(全民健康信息平台)."""
ROLES = frozenset({"governance", "counter", "designated", "pension", "health", "audit"})
"""Roles an agency holds: ``governance`` (genesis only) approves changes; ``counter`` runs a
service counter that takes assisted steps for residents; ``designated`` is a designated
medical institution of the medical insurance (医保定点医疗机构, under its agreement with the
medical-insurance bureau): only such hospitals share test results on the statutory basis
(``STATUTORY_SHARING``); the others describe its work."""

COUNTER_CLASSES: dict[str, frozenset[str]] = {
    "social_security_bureau": PENSION_CLASSES,
    "medical_insurance_bureau": frozenset({"medical_insurance_record"}),
    "hospital": frozenset({"health_file_summary", "test_result"}),
    "primary_clinic": frozenset({"health_file_summary"}),
    "health_commission": frozenset({"health_file_summary", "test_result"}),
    "auditor": frozenset(),
}
"""The data classes a counter of each kind records (and withdraws) consents for: what that
kind of agency keeps. The medical-insurance record is the medical-insurance bureau's, not the
pension bureau's (#12). An auditor runs no counter."""

SOURCE_KINDS: dict[str, frozenset[str]] = {
    "health_file_summary": frozenset({"hospital", "primary_clinic", "health_commission"}),
    "test_result": frozenset({"hospital"}),
    "medical_insurance_record": frozenset({"hospital", "medical_insurance_bureau"}),
}
"""Which kinds of agency hold (and so may be the source of) each health class in a sharing
case: a health file lies with the hospital, the primary clinic or the health commission's
platform; a test result with the hospital that made it; a medical-insurance record with the
medical-insurance bureau or the hospital that billed it."""
CUSTODIANS = frozenset().union(*SOURCE_KINDS.values())

PURPOSES: dict[str, tuple[str, str]] = {
    "TREAT": ("治疗", "treatment"),
    "ETREAT": ("急诊救治", "emergency treatment"),
    "COC": ("连续诊疗", "coordination of care"),
    "CAREMGT": ("照护管理", "care management"),
    "HPAYMT": ("医疗费用支付", "healthcare payment"),
    "COVERAGE": ("保险待遇核定", "coverage under policy or program"),
    "ELIGDTRM": ("资格认定", "eligibility determination"),
    "MEMADMIN": ("参保管理", "member administration"),
    "PUBHLTH": ("公共卫生", "public health"),
    "PATRQT": ("本人申请", "patient requested"),
    "FAMRQT": ("家属申请", "family requested"),
    "PWATRNY": ("委托代理人申请", "power of attorney"),
    "HLEGAL": ("法律事务", "legal"),
}
"""Why data is used: a subset of HL7 v3 PurposeOfUse (ActReason), the codes FHIR Consent and
AuditEvent take; the PIPL asks for the purpose to be explicit (arts. 6, 14, 17)."""

PENSION_REJECTIONS: dict[str, tuple[str, str]] = {
    "no_contribution_record": ("无缴费记录", "no contribution record"),
    "information_mismatch": ("信息不一致", "the applicant's information does not match"),
    "duplicate_insurance": ("重复参保", "insured in two places at once (to be settled first)"),
    "not_transferable": ("不符合转移条件", "not transferable under the rules"),
    "incomplete_application": ("申请材料不全", "the application is incomplete"),
    "wrong_case_kind": (
        "转移类型不符",
        "the case's kind is wrong (e.g. the two bureaus share one pooling area, or not)",
    ),
    "not_retirement_age": (
        "未达到法定退休年龄",
        "scheme link: not yet at the employees' scheme's statutory retirement age",
    ),
    "contribution_years": (
        "缴费年限不符合衔接方向",
        "scheme link: the employees' contribution years do not allow this direction "
        "(15 years or more: into the employees' scheme; fewer: into the residents')",
    ),
    "other": ("其他（见附注）", "other: see the note (note_hash)"),
}
"""Why a receiving agency (转入地; for a scheme link the bureau where benefits will be drawn,
待遇领取地) rejects a transfer, the statement of reasons 人社部发〔2014〕17号 art. 7(2) asks for
(作出说明); ``other`` needs a ``note_hash``."""

PENSION_RULES: dict[str, tuple[str, str]] = {
    "sil_art19": (
        "《中华人民共和国社会保险法》第十九条",
        "Social Insurance Law art. 19: the basic pension relation follows the person across "
        "pooling areas; contribution years are added up",
    ),
    "sia_art12": (
        "《社会保险经办条例》第十二条",
        "Regulation on Social Insurance Handling art. 12: the agencies transfer the relation",
    ),
    "sia_art16": (
        "《社会保险经办条例》第十六条",
        "Regulation on Social Insurance Handling art. 16: the agencies tell the person",
    ),
    "gbf_2009_66_art8": (
        "国办发〔2009〕66号 第八条",
        "State Council General Office 2009 No. 66 art. 8: the transfer's steps, 15 working "
        "days each (联系函; 信息表 and funds; finish and tell the person)",
    ),
    "zj_pension_art28": (
        "《浙江省职工基本养老保险条例》第二十八条",
        "Zhejiang employees' basic pension regulation art. 28: within one pooling area the "
        "relation and file move, no funds",
    ),
    "rsbf_2014_17": (
        "人社部发〔2014〕17号《城乡养老保险制度衔接暂行办法》",
        "Interim Measures on linking the urban-rural pension schemes: residents' scheme <-> "
        "employees' scheme at retirement age, the individual account moves, its own steps",
    ),
}
"""The rules a pension transfer case cites (its ``basis.rules``): code -> (citation, what it
says). Which ones a case cites follows from its kind (``PENSION_KINDS``)."""

PENSION_KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "inter_area": (
        "跨统筹地区转移",
        "between pooling areas: relation, file and funds move",
        ("sil_art19", "sia_art12", "sia_art16", "gbf_2009_66_art8"),
    ),
    "intra_area": (
        "统筹地区内转移",
        "within one pooling area: relation and file move, no funds",
        ("sil_art19", "sia_art12", "sia_art16", "zj_pension_art28", "gbf_2009_66_art8"),
    ),
    "scheme_link": (
        "城乡养老保险制度衔接",
        "between the urban-rural residents' scheme and the employees' scheme",
        ("sia_art12", "sia_art16", "rsbf_2014_17"),
    ),
}
"""A pension transfer's kind: code -> (中文, English, the rules it cites)."""

SCHEME_LINK_DIRECTIONS: dict[str, tuple[str, str]] = {
    "resident_to_employee": (
        "城乡居民养老保险转入职工养老保险",
        "residents' scheme into the employees' scheme (15 or more employees' contribution "
        "years; the residents' years are not added)",
    ),
    "employee_to_resident": (
        "职工养老保险转入城乡居民养老保险",
        "employees' scheme into the residents' scheme (fewer than 15 employees' contribution "
        "years; they are added to the residents' years)",
    ),
}
"""A scheme link's direction (人社部发〔2014〕17号 arts. 3-5)."""

VERIFICATION_METHODS: dict[str, tuple[str, str]] = {
    "id_card_reader": ("二代身份证读卡核验", "second-generation ID card reader"),
    "id_card_inspection": ("身份证人工核验", "ID card inspected by the operator"),
    "face_verification": (
        "人脸比对（不留存模板）",
        "face compared with the ID photo, no template kept",
    ),
    "social_security_card": ("社会保障卡", "social security card"),
    "household_register": ("户口簿", "household register"),
    "travel_permit": ("护照或通行证", "passport or travel permit"),
}
"""How a counter's operator checked a resident's identity (never a biometric template)."""

STATUTORY_BASES: dict[str, tuple[str, str, frozenset[str], frozenset[str]]] = {
    "sil_pension": (
        "《中华人民共和国社会保险法》第十九条；《社会保险经办条例》第十二条；"
        "《个人信息保护法》第十三条第一款第三项",
        "Social Insurance Law art. 19 and the Regulation on Social Insurance Handling art. 12: "
        "the pension bureau keeps the insured person's pension relation and moves it with her "
        "(PIPL art. 13(1)(3): a statutory duty, not a consent)",
        frozenset({"social_security_bureau"}),
        PENSION_CLASSES,
    ),
    "gbf_2009_66": (
        "国办发〔2009〕66号《城镇企业职工基本养老保险关系转移接续暂行办法》；"
        "《个人信息保护法》第十三条第一款第三项",
        "State Council General Office 2009 No. 66: the transfer of the employees' basic "
        "pension relation between bureaus (PIPL art. 13(1)(3): a statutory duty)",
        frozenset({"social_security_bureau"}),
        PENSION_CLASSES,
    ),
}
"""Statutory bases an agency records for a resident (``basis.record``): code -> (中文
citation, English, the kinds of agency that hold the duty, the data classes it covers). Not a
consent: nothing to withdraw (no transaction does), listed apart from her consents. Health
data has none here: it moves with her separate consent (PIPL arts. 28-29), on the statute of
``STATUTORY_SHARING`` or in an emergency (``EMERGENCY_REASONS``)."""

EMERGENCY_REASONS: dict[str, tuple[str, str]] = {
    "unconscious": ("患者意识丧失，无法表达意见", "the patient is unconscious: cannot be asked"),
    "life_threatening": ("生命垂危，需立即抢救", "life-threatening: treatment cannot wait"),
    "no_relative_reachable": (
        "不能取得患者或者其近亲属意见",
        "neither the patient nor a close relative can be asked (民法典 art. 1220)",
    ),
    "mass_casualty": ("突发事件批量伤员救治", "mass-casualty incident"),
    "public_health_emergency": (
        "应对突发公共卫生事件",
        "response to a public health emergency (PIPL art. 13(1)(4))",
    ),
}
"""Why a hospital breaks the glass (``health.emergency``): it reads a health class without
consent because it is necessary to protect the resident's life or health in an emergency
(PIPL art. 13(1)(4); 民法典 art. 1220: 因抢救生命垂危的患者等紧急情况，不能取得患者或者其近亲属
意见的). The resident is told afterwards (PIPL art. 18 para 2): the entry in her access log."""

MEDICAL_INSTITUTIONS = frozenset({"hospital", "primary_clinic"})
"""The kinds a medical-insurance agreement may designate (``designated``)."""

STATUTORY_SHARING: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "浙江省医疗保障条例 art. 40": (
        frozenset({"test_result"}),
        frozenset({"TREAT", "ETREAT", "COC"}),
    ),
}
"""Statutes under which one designated medical institution shares a resident's records with
another without her consent (PIPL art. 13(3)/(7): a duty or power the law provides), each
with the data classes and purposes it covers: 浙江省医疗保障条例 art. 40, the mutual
recognition of test results (检查检验结果互认) between designated medical institutions, for
the patient's care. Not a consent: nothing to withdraw; each release and read is recorded in
the resident's access log with the citation. A health file summary is no test result: no
statute here shares it without consent (PIPL arts. 28-29)."""

GRANTOR_TYPES = frozenset({"self", "proxy", "guardian"})
CHANNELS = frozenset({"counter", "proxy", "guardian"})
VERIFICATION_RESULTS = frozenset({"verified", "failed"})

CALENDAR_ISSUERS: dict[str, tuple[str, str]] = {
    "state_council_general_office": ("国务院办公厅", "General Office of the State Council"),
}
"""Who publishes a year's arrangement of days off and make-up working days (``set_calendar``):
the notice 国务院办公厅关于<year>年部分节假日安排的通知, each November."""

PROOF_SCHEMES: dict[str, tuple[str, str, str, str]] = {
    "employee_pension": (
        "职工基本养老保险",
        "employees' basic pension insurance",
        "social_security_bureau",
        "contribution_history",
    ),
    "resident_pension": (
        "城乡居民基本养老保险",
        "urban and rural residents' basic pension insurance",
        "social_security_bureau",
        "contribution_history",
    ),
    "employee_medical": (
        "职工基本医疗保险",
        "employees' basic medical insurance",
        "medical_insurance_bureau",
        "medical_insurance_record",
    ),
    "resident_medical": (
        "城乡居民基本医疗保险",
        "urban and rural residents' basic medical insurance",
        "medical_insurance_bureau",
        "medical_insurance_record",
    ),
}
"""The schemes a proof of insurance (参保证明) states: code -> (中文, English, the kind of
bureau that issues it, the data class it is drawn from)."""

PROOF_REVOCATIONS: dict[str, tuple[str, str]] = {
    "issued_in_error": ("出具错误", "issued in error"),
    "record_corrected": ("参保记录已更正", "the insurance record was corrected since"),
    "superseded": ("已重新出具", "superseded by a new proof"),
    "obtained_by_fraud": ("以欺诈手段取得", "obtained by fraud"),
    "requested_by_resident": ("本人申请作废", "the resident asked for it to be revoked"),
}
"""Why a bureau revokes a proof it issued (``proof.revoke``)."""

CORRECTION_RECORDS = frozenset({"enrollment", "consent", "health_case", "pension_case", "proof"})
"""What a resident asks an agency to correct (``rights.correct_request``, PIPL art. 46): her
enrollment data held by an agency that set her key at a counter, a consent, a sharing case, a
pension transfer case or a proof of insurance, each held by an agency party to it."""
CORRECTION_GROUNDS: dict[str, tuple[str, str]] = {
    "inaccurate": ("不准确", "inaccurate"),
    "incomplete": ("不完整", "incomplete (补充: to be supplemented)"),
    "outdated": ("已过时", "out of date"),
}
"""Why a resident asks for a correction (PIPL art. 46: 不准确或者不完整)."""
CORRECTION_DECISIONS = frozenset({"accepted", "partial", "refused"})
CORRECTION_REFUSALS: dict[str, tuple[str, str]] = {
    "record_accurate": ("经核实记录准确", "checked: the record is accurate"),
    "evidence_insufficient": ("证明材料不足", "the evidence does not show the error"),
    "not_held": ("本机构未持有该信息", "this agency does not hold the information"),
    "statutory_record": (
        "法定记录不予更改，已附注说明",
        "a record the law fixes: not changed, a note attached",
    ),
    "identity_not_verified": ("未能核实申请人身份", "the requester's identity was not verified"),
    "other": ("其他", "other (with note_hash)"),
}
"""Why an agency refuses a correction, or corrects only part (``rights.correct_decide``):
PIPL art. 50 requires the reasons of a refusal; one is always given."""
AGE_CLASSES: dict[str, tuple[str, str]] = {
    "under_14": (
        "不满十四周岁",
        "under 14: only a registered guardian consents or acts (PIPL art. 31)",
    ),
    "14_17": ("十四周岁以上不满十八周岁", "14 to 17: acts herself; her guardian may too"),
    "adult": ("成年人（十八周岁以上）", "18 or over (民法典 art. 17)"),
}
"""A resident's age class (#13 item 2), decided at the counter from the ID, never her birth
date: the one fact the law's ages turn on (PIPL art. 31; 民法典 arts. 17-19)."""

GUARDIAN_BASES: dict[str, tuple[str, str, str]] = {
    "parent": ("minor", "民法典 art. 27(1)", "父母"),
    "relative": ("minor", "民法典 art. 27(2)", "祖父母、外祖父母、兄、姐或其他个人、组织"),
    "testament": ("minor", "民法典 art. 29", "遗嘱指定监护"),
    "agreement": ("any", "民法典 art. 30", "协议确定监护"),
    "appointment": ("any", "民法典 art. 31", "指定监护（居委会、村委会、民政部门或法院）"),
    "public": ("any", "民法典 art. 32", "民政部门或居委会、村委会担任监护"),
    "adult_incapacity": ("adult", "民法典 arts. 24, 28", "无或限制民事行为能力成年人的监护"),
    "voluntary": ("adult", "民法典 art. 33", "意定监护"),
}
"""How a guardian came to be one: code -> (whose guardian: ``minor``, ``adult`` or ``any``,
the article, 中文)."""

GUARDIAN_DOCUMENTS: dict[str, tuple[str, str]] = {
    "household_register": ("户口簿", "household register"),
    "birth_certificate": ("出生医学证明", "medical certificate of birth"),
    "court_judgment": ("人民法院判决书或裁定书", "court judgment or ruling"),
    "appointment_letter": ("指定监护决定书", "letter of appointment"),
    "will": ("遗嘱", "will"),
    "guardianship_agreement": ("监护协议", "guardianship agreement"),
    "notarized_agreement": ("意定监护协议公证书", "notarized voluntary guardianship agreement"),
}
"""The document a counter saw for a guardianship: its kind here, its hash on the log."""

CAPACITIES = frozenset({"none", "limited"})
"""An adult ward's capacity as a court declared it (民法典 arts. 21-22, 24): ``none`` acts only
through her guardian; ``limited`` acts herself and her guardian may too."""

GUARDIAN_ENDINGS: dict[str, tuple[str, str]] = {
    "capacity_restored": ("被监护人恢复完全民事行为能力", "民法典 art. 39(1)"),
    "guardian_incapable": ("监护人丧失监护能力", "民法典 art. 39(2)"),
    "death": ("被监护人或者监护人死亡", "民法典 art. 39(3)"),
    "court_ended": ("人民法院认定监护关系终止或撤销监护人资格", "民法典 arts. 36, 39(4)"),
    "recorded_in_error": ("登记错误", "recorded in error"),
}
"""Why a counter ends a guardianship (``guardian.revoke``); one for a minor also ends by
itself on her 18th birthday (民法典 art. 17)."""

DELEGABLE_ACTIONS = frozenset(
    {
        "consent.grant",
        "consent.withdraw",
        "health.authorize",
        "pension.apply",
        "pension.withdraw",
        "rights.copy_request",
        "rights.correct_request",
    }
)
"""What a delegate (委托代理人, 民法典 art. 165) or a guardian may sign for a resident: never
``resident.erase`` or ``resident.rotate_key`` (her identity, at a counter), nor
``delegation.*`` (no delegate appoints another: 民法典 art. 169 asks the principal's
consent, which the ledger has only as a delegation of her own)."""
