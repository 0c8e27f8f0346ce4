//! The few ISO/IEEE 11073-10101 nomenclature codes and IEEE 11073-20601 enumerations the decoder names.
//! Unknown codes are kept as numbers.

/// Context-free code: partition in the high 16 bits, term code in the low 16 (11073-10101 §A.3).
pub const fn context_free(partition: u16, code: u16) -> u32 {
    ((partition as u32) << 16) | code as u32
}

// Notification (event) types, partition MDC_PART_OBJ (20601 Annex A.10 / Annex H).
pub const MDC_NOTI_CONFIG: u16 = 0x0d1c;
pub const MDC_NOTI_SCAN_REPORT_FIXED: u16 = 0x0d1d;
pub const MDC_NOTI_SCAN_REPORT_VAR: u16 = 0x0d1e;
pub const MDC_NOTI_SCAN_REPORT_MP_FIXED: u16 = 0x0d1f;
pub const MDC_NOTI_SCAN_REPORT_MP_VAR: u16 = 0x0d20;

// Attribute ids (partition MDC_PART_OBJ).
pub const MDC_ATTR_ID_MODEL: u16 = 0x0928;
pub const MDC_ATTR_ID_PROD_SPECN: u16 = 0x092d;
pub const MDC_ATTR_ID_TYPE: u16 = 0x092f;
pub const MDC_ATTR_SYS_ID: u16 = 0x0984;
pub const MDC_ATTR_DEV_CONFIG_ID: u16 = 0x0a44;
pub const MDC_ATTR_SYS_TYPE_SPEC_LIST: u16 = 0x0a5a;

pub fn event_type_name(code: u16) -> Option<&'static str> {
    Some(match code {
        MDC_NOTI_CONFIG => "MDC_NOTI_CONFIG",
        MDC_NOTI_SCAN_REPORT_FIXED => "MDC_NOTI_SCAN_REPORT_FIXED",
        MDC_NOTI_SCAN_REPORT_VAR => "MDC_NOTI_SCAN_REPORT_VAR",
        MDC_NOTI_SCAN_REPORT_MP_FIXED => "MDC_NOTI_SCAN_REPORT_MP_FIXED",
        MDC_NOTI_SCAN_REPORT_MP_VAR => "MDC_NOTI_SCAN_REPORT_MP_VAR",
        0x0d21 => "MDC_NOTI_SEGMENT_DATA",
        0x0d22 => "MDC_NOTI_UNBUF_SCAN_REPORT_VAR",
        0x0d23 => "MDC_NOTI_UNBUF_SCAN_REPORT_FIXED",
        0x0d24 => "MDC_NOTI_UNBUF_SCAN_REPORT_GROUPED",
        0x0d25 => "MDC_NOTI_UNBUF_SCAN_REPORT_MP_VAR",
        0x0d26 => "MDC_NOTI_UNBUF_SCAN_REPORT_MP_FIXED",
        0x0d27 => "MDC_NOTI_UNBUF_SCAN_REPORT_MP_GROUPED",
        0x0d28 => "MDC_NOTI_BUF_SCAN_REPORT_VAR",
        0x0d29 => "MDC_NOTI_BUF_SCAN_REPORT_FIXED",
        0x0d2a => "MDC_NOTI_BUF_SCAN_REPORT_GROUPED",
        0x0d2b => "MDC_NOTI_BUF_SCAN_REPORT_MP_VAR",
        0x0d2c => "MDC_NOTI_BUF_SCAN_REPORT_MP_FIXED",
        0x0d2d => "MDC_NOTI_BUF_SCAN_REPORT_MP_GROUPED",
        _ => return None,
    })
}

/// Object classes (MDC_MOC_*: VMO_METRIC 4, _ENUM 5, _NU 6, _SA_RT 9, SCAN 16.., VMS_MDS_SIMP 37,
/// VMO_PMSTORE 61, PM_SEGMENT 62), 20601 §6.3.
pub fn class_name(class: u16) -> Option<&'static str> {
    Some(match class {
        4 => "metric",
        5 => "enumeration",
        6 => "numeric",
        9 => "rt_sa",
        16 => "scanner",
        17 => "scanner_cfg",
        18 => "scanner_epi_cfg",
        19 => "scanner_peri_cfg",
        37 => "mds",
        61 => "pm_store",
        62 => "pm_segment",
        _ => return None,
    })
}

/// Association result (20601 Annex A.8, `AssociateResult`).
pub fn associate_result(v: u16) -> Option<&'static str> {
    Some(match v {
        0 => "accepted",
        1 => "rejected_permanent",
        2 => "rejected_transient",
        3 => "accepted_unknown_config",
        4 => "rejected_no_common_protocol",
        5 => "rejected_no_common_parameter",
        6 => "rejected_unknown",
        7 => "rejected_unauthorized",
        8 => "rejected_unsupported_assoc_version",
        _ => return None,
    })
}

/// RLRQ reason (`ReleaseRequestReason`).
pub fn release_request_reason(v: u16) -> Option<&'static str> {
    Some(match v {
        0 => "normal",
        1 => "no_more_configurations",
        2 => "configuration_changed",
        _ => return None,
    })
}

/// ABRT reason (`Abort-reason`).
pub fn abort_reason(v: u16) -> Option<&'static str> {
    Some(match v {
        0 => "undefined",
        1 => "buffer_overflow",
        2 => "response_timeout",
        3 => "configuration_timeout",
        _ => return None,
    })
}

/// ConfigReportRsp config-result (`ConfigResult`).
pub fn config_result(v: u16) -> Option<&'static str> {
    Some(match v {
        0 => "accepted_config",
        1 => "unsupported_config",
        2 => "standard_config_unknown",
        _ => return None,
    })
}

/// ROER error-value (`ERROR`).
pub fn error_value(v: u16) -> Option<&'static str> {
    Some(match v {
        1 => "no_such_object_instance",
        2 => "access_denied",
        9 => "no_such_action",
        17 => "invalid_object_instance",
        23 => "protocol_violation",
        24 => "not_allowed_by_object",
        25 => "action_timed_out",
        26 => "action_aborted",
        _ => return None,
    })
}

/// RORJ problem (`RorjProblem`).
pub fn reject_problem(v: u16) -> Option<&'static str> {
    Some(match v {
        0 => "unrecognized_apdu",
        2 => "badly_structured_apdu",
        101 => "unrecognized_operation",
        103 => "resource_limitation",
        303 => "unexpected_error",
        _ => return None,
    })
}

const SCADA: u16 = 2;

/// Handle → context-free type code of the standard configurations a manager may already know (the
/// device specialisations: 10404 pulse oximeter 400/401, 10407 blood pressure 700, 10408 thermometer
/// 800, 10415 weight scale 1500, 10417 glucose meter 1700). Agents with an extended configuration
/// (0x4000–0x7FFF) send MDC_NOTI_CONFIG instead.
pub fn standard_config(dev_config_id: u16) -> &'static [(u16, u32)] {
    const PULSE_OX: &[(u16, u32)] = &[
        (1, context_free(SCADA, 0x4bb8)),  // MDC_PULS_OXIM_SAT_O2
        (10, context_free(SCADA, 0x481a)), // MDC_PULS_OXIM_PULS_RATE
    ];
    const BLOOD_PRESSURE: &[(u16, u32)] = &[
        (1, context_free(SCADA, 0x4a04)), // MDC_PRESS_BLD_NONINV
        (2, context_free(SCADA, 0x482a)), // MDC_PULS_RATE_NON_INV
    ];
    const THERMOMETER: &[(u16, u32)] = &[(1, context_free(SCADA, 0x4b5c))]; // MDC_TEMP_BODY
    const WEIGHT: &[(u16, u32)] = &[(1, context_free(SCADA, 0xe140))]; // MDC_MASS_BODY_ACTUAL
    const GLUCOSE: &[(u16, u32)] = &[(1, context_free(SCADA, 0x71b8))]; // MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD
    match dev_config_id {
        400 | 401 => PULSE_OX,
        700 => BLOOD_PRESSURE,
        800 => THERMOMETER,
        1500 => WEIGHT,
        1700 => GLUCOSE,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_free_codes_match_10101() {
        // 11073-10101: MDC_PULS_OXIM_SAT_O2 = 150456, MDC_MASS_BODY_ACTUAL = 188736.
        assert_eq!(standard_config(400)[0].1, 150_456);
        assert_eq!(standard_config(1500)[0].1, 188_736);
        assert_eq!(standard_config(700)[0].1, 150_020); // MDC_PRESS_BLD_NONINV
    }
}
