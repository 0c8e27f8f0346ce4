//! One-pass SOAP 1.2 envelope scanner over a borrowed, bounded buffer (quick-xml `Reader` with its
//! `NamespaceResolver`, kept as `NsReader` keeps it).
//!
//! The scanner never builds a tree: it walks the XML events once, keeps a stack of borrowed local names
//! (at most [`MAX_DEPTH`]), and copies out only the few small text fields the sensor reports, each capped
//! ([`MAX_FIELD`], lists [`MAX_LIST`] items). Metric values, alert texts and patient data are never copied:
//! state elements are counted and only their `DescriptorHandle` attribute is kept (first
//! [`MAX_HANDLES`] distinct ones). A `PatientContextState` is recorded as present, nothing else about it.
//!
//! The same walk serves WS-Discovery datagrams ([`Mode::Discovery`]: endpoint reference, types, scopes,
//! XAddrs, metadata version per message or per match) and SOAP over HTTP ([`Mode::Http`]: WS-Addressing
//! headers, the BICEPS/DPWS message name, DPWS ThisModel/ThisDevice, set/control operations, eventing).
//!
//! Sources: SOAP 1.2 Part 1 (W3C 2007) §5 (envelope, no DTD), WS-Addressing 1.0 Core §3 (Action,
//! MessageID, RelatesTo, To), DPWS 1.1 (OASIS 2009) §4.1 (ThisModel, ThisDevice), WS-Eventing (2006, as
//! profiled by DPWS §6: Subscribe/Filter/Expires), WS-Discovery 1.1 (OASIS 2009) §4–§6, IEEE
//! 11073-10207 (BICEPS) message model (`msg:` report parts, `pm:` states, `msg:InvocationInfo`).

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{NamespaceError, NamespaceResolver, QName, ResolveResult};
use quick_xml::reader::Reader;

/// Deepest element nesting scanned; deeper is the anomaly `xml_too_deep` and scanning stops.
pub const MAX_DEPTH: usize = 64;
/// Most elements scanned in one document; more is the anomaly `xml_too_many_elements` and scanning stops.
pub const MAX_ELEMENTS: u32 = 50_000;
/// Most attributes looked at per element (the rest are ignored).
pub const MAX_ATTRS: usize = 32;
/// Most namespace bindings in scope at once (quick-xml's limit); more is `xml_malformed`.
pub const MAX_NS_BINDINGS: usize = 256;
/// Longest copied text field (bytes, cut at a char boundary).
pub const MAX_FIELD: usize = 256;
/// Longest copied whitespace-separated list text (Types, Scopes, XAddrs, Filter) before splitting.
pub const MAX_LIST_TEXT: usize = 4096;
/// Most items kept from one list.
pub const MAX_LIST: usize = 16;
/// Most distinct descriptor handles kept per message.
pub const MAX_HANDLES: usize = 32;
/// Most ProbeMatch/ResolveMatch entries reported from one datagram.
pub const MAX_MATCHES: usize = 16;

const NS_SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
const NS_SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// What the document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Discovery,
    Http,
}

/// One WS-Discovery endpoint description (a Hello/Bye/Probe/Resolve body, or one ProbeMatch/ResolveMatch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoEntry {
    pub epr: Option<String>,
    /// QNames expanded to `{namespace}Local` (Clark notation) where the prefix resolves, else as sent.
    pub types: Vec<String>,
    pub scopes: Vec<String>,
    pub xaddrs: Vec<String>,
    pub metadata_version: Option<u64>,
    /// Some list was longer than [`MAX_LIST`] items.
    pub lists_truncated: bool,
    /// A scope naming a patient context was seen (and dropped).
    pub patient_scope: bool,
}

/// What one scan found. Everything is small and owned; no payload values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    pub envelope: bool,
    pub action: Option<String>,
    pub message_id: Option<String>,
    pub relates_to: Option<String>,
    pub to: Option<String>,
    /// Local name of the first element of the SOAP Body.
    pub message: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub model_number: Option<String>,
    pub firmware: Option<String>,
    pub serial: Option<String>,
    pub friendly_name: Option<String>,
    pub operation_handle: Option<String>,
    pub invocation_state: Option<String>,
    pub transaction_id: Option<u64>,
    pub filter_actions: Vec<String>,
    pub expires: Option<String>,
    pub mdib_version: Option<u64>,
    pub metric_updates: u32,
    pub alert_updates: u32,
    pub component_updates: u32,
    pub context_updates: u32,
    pub operation_updates: u32,
    pub handles: Vec<String>,
    pub handles_truncated: bool,
    pub patient_context_present: bool,
    pub fault_code: Option<String>,
    pub fault_subcode: Option<String>,
    /// Discovery: the message body (Hello/Bye/Probe/Resolve) or each match.
    pub entries: Vec<DiscoEntry>,
    pub matches_truncated: bool,
    /// Anomalies found while scanning (kind, detail).
    pub anomalies: Vec<(&'static str, String)>,
}

/// Which text field an open element feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Action,
    MessageId,
    RelatesTo,
    To,
    Manufacturer,
    Model,
    ModelNumber,
    Firmware,
    Serial,
    FriendlyName,
    OperationHandle,
    InvocationState,
    TransactionId,
    Filter,
    Expires,
    FaultCode,
    FaultSubcode,
    Epr,
    Types,
    Scopes,
    XAddrs,
    MetadataVersion,
}

impl Field {
    fn cap(self) -> usize {
        match self {
            Field::Types | Field::Scopes | Field::XAddrs | Field::Filter => MAX_LIST_TEXT,
            _ => MAX_FIELD,
        }
    }
}

struct Capture {
    field: Field,
    depth: usize,
    text: String,
}

/// Appends `s` to `dst` without letting `dst` exceed `cap` bytes (cut at a char boundary).
fn push_capped(dst: &mut String, s: &str, cap: usize) {
    let room = cap.saturating_sub(dst.len());
    if room == 0 {
        return;
    }
    if s.len() <= room {
        dst.push_str(s);
        return;
    }
    let mut end = room;
    while end > 0 && !s.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    if let Some(head) = s.get(..end) {
        dst.push_str(head);
    }
}

/// A copy of `s` of at most `cap` bytes.
pub(crate) fn capped(s: &str, cap: usize) -> String {
    let mut out = String::new();
    push_capped(&mut out, s, cap);
    out
}

fn local_of(qname: &str) -> &str {
    qname.rsplit(':').next().unwrap_or(qname)
}

/// Scans `doc` (possibly a prefix of a longer body when `truncated`: then running out of input is not
/// an anomaly).
pub fn scan(doc: &[u8], mode: Mode, truncated: bool) -> Scan {
    let mut s = Scanner {
        out: Scan::default(),
        stack: Vec::new(),
        capture: None,
        mode,
        elements: 0,
        in_header: false,
        in_body: false,
        seen_message: false,
        fault: false,
    };
    s.run(doc, truncated);
    s.out
}

/// The few ancestors the scanner needs to recognise; everything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    ThisModel,
    ThisDevice,
    EndpointReference,
    Code,
    Subcode,
    Other,
}

impl Tag {
    fn of(local: &str) -> Tag {
        match local {
            "ThisModel" => Tag::ThisModel,
            "ThisDevice" => Tag::ThisDevice,
            "EndpointReference" => Tag::EndpointReference,
            "Code" => Tag::Code,
            "Subcode" => Tag::Subcode,
            _ => Tag::Other,
        }
    }
}

struct Scanner {
    out: Scan,
    stack: Vec<Tag>,
    capture: Option<Capture>,
    mode: Mode,
    elements: u32,
    in_header: bool,
    in_body: bool,
    /// The message element (first child of the Body) has been seen.
    seen_message: bool,
    fault: bool,
}

impl Scanner {
    fn anomaly(&mut self, kind: &'static str, detail: String) {
        self.out.anomalies.push((kind, detail));
    }

    fn run(&mut self, doc: &[u8], truncated: bool) {
        let mut r = Reader::from_reader(doc);
        {
            let c = r.config_mut();
            c.trim_text(true);
            c.check_end_names = true;
            c.expand_empty_elements = false;
        }
        let mut ns = NamespaceResolver::default();
        ns.set_max_namespace_bindings(MAX_NS_BINDINGS);
        let xmlns = memchr::memmem::Finder::new(b"xmlns");
        // As in quick-xml's NsReader: the scope of an element that ended (or was empty) is left when
        // the next event is read, so its bindings still resolve while its end is handled.
        let mut pending_pop = false;
        loop {
            if pending_pop {
                ns.pop();
                pending_pop = false;
            }
            let ev = r.read_event().and_then(|ev| match &ev {
                Event::Start(e) | Event::Empty(e) => {
                    push_scope(&mut ns, e, &xmlns)?;
                    Ok(ev)
                }
                _ => Ok(ev),
            });
            let ev = match ev {
                Ok(ev) => ev,
                Err(e) => {
                    if !truncated {
                        let pos = r.buffer_position();
                        self.anomaly("xml_malformed", format!("{e} at byte {pos}"));
                    }
                    return;
                }
            };
            match ev {
                Event::Start(e) => {
                    if !self.start(&ns, &e, false) {
                        return;
                    }
                }
                Event::Empty(e) => {
                    pending_pop = true;
                    if !self.start(&ns, &e, true) {
                        return;
                    }
                }
                Event::End(_) => {
                    pending_pop = true;
                    self.end(&ns);
                }
                Event::Text(t) => {
                    let content = t.into_inner();
                    self.text(&content);
                }
                Event::CData(t) => {
                    let content = t.into_inner();
                    self.text(&content);
                }
                Event::GeneralRef(g) => {
                    if g.is_char_ref() {
                        if let Ok(Some(ch)) = g.resolve_char_ref() {
                            let mut b = [0u8; 4];
                            self.text(ch.encode_utf8(&mut b));
                        }
                    } else if let Some(rep) = resolve_predefined_entity(&g) {
                        self.text(rep);
                    }
                }
                Event::DocType(_) => {
                    // SOAP 1.2 Part 1 §5: "The XML infoset of a SOAP message MUST NOT contain a document
                    // type declaration information item."
                    self.anomaly(
                        "xml_doctype",
                        "document type declaration in a SOAP message".into(),
                    );
                    return;
                }
                Event::Eof => {
                    if !self.stack.is_empty() && !truncated {
                        let d = self.stack.len();
                        self.anomaly(
                            "xml_malformed",
                            format!("document ends inside {d} open elements"),
                        );
                    }
                    return;
                }
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            }
        }
    }

    /// Handles a start or empty element. Returns false to stop scanning.
    fn start(&mut self, ns: &NamespaceResolver, e: &BytesStart<'_>, empty: bool) -> bool {
        self.elements = self.elements.saturating_add(1);
        if self.elements > MAX_ELEMENTS {
            self.anomaly(
                "xml_too_many_elements",
                format!("more than {MAX_ELEMENTS} elements"),
            );
            return false;
        }
        if self.stack.len() >= MAX_DEPTH {
            self.anomaly(
                "xml_too_deep",
                format!("element nesting deeper than {MAX_DEPTH}"),
            );
            return false;
        }
        let name = e.name();
        let qname = name.0;
        let local = local_of(qname);
        let depth = self.stack.len(); // depth of this element: 0 = root
        if depth == 0 {
            let (bound, l) = ns.resolve_element(QName(qname));
            let ok_ns =
                matches!(bound, ResolveResult::Bound(n) if n.0 == NS_SOAP12 || n.0 == NS_SOAP11);
            if l.as_ref() != "Envelope" || !ok_ns {
                if self.mode == Mode::Http {
                    // Plain XML over HTTP (a DPWS consumer fetching `?wsdl` gets `wsdl:definitions`):
                    // report the root element, no anomaly.
                    self.out.message = Some(capped(local, 64));
                } else {
                    self.anomaly(
                        "not_soap_envelope",
                        format!("root element {} is not a SOAP envelope", capped(qname, 64)),
                    );
                }
                return false;
            }
            self.out.envelope = true;
        } else if depth == 1 {
            self.in_header = local == "Header";
            self.in_body = local == "Body";
        } else if self.in_header && depth == 2 {
            let f = match local {
                "Action" => Some(Field::Action),
                "MessageID" => Some(Field::MessageId),
                "RelatesTo" => Some(Field::RelatesTo),
                "To" => Some(Field::To),
                _ => None,
            };
            self.open_capture(f, depth, empty);
        } else if self.in_body {
            self.body_element(e, local, depth, empty);
        }
        if !empty {
            self.stack.push(Tag::of(local));
        }
        true
    }

    fn body_element(&mut self, e: &BytesStart<'_>, local: &str, depth: usize, empty: bool) {
        if depth == 2 && !self.seen_message {
            self.seen_message = true;
            self.out.message = Some(capped(local, 64));
            self.fault = local == "Fault";
            if let Some(v) = attr(e, "MdibVersion") {
                self.out.mdib_version = v.trim().parse().ok();
            }
            if self.mode == Mode::Discovery
                && matches!(local, "Hello" | "Bye" | "Probe" | "Resolve")
            {
                self.out.entries.push(DiscoEntry::default());
            }
        }
        let f = match self.mode {
            Mode::Discovery => self.discovery_element(local, depth),
            Mode::Http => self.http_element(e, local),
        };
        self.open_capture(f, depth, empty);
    }

    fn discovery_element(&mut self, local: &str, depth: usize) -> Option<Field> {
        if depth == 3 && matches!(local, "ProbeMatch" | "ResolveMatch") {
            if self.out.entries.len() < MAX_MATCHES {
                self.out.entries.push(DiscoEntry::default());
            } else {
                self.out.matches_truncated = true;
            }
            return None;
        }
        if self.out.matches_truncated {
            return None;
        }
        match local {
            "Address" if self.parent() == Some(Tag::EndpointReference) => Some(Field::Epr),
            "Types" => Some(Field::Types),
            "Scopes" => Some(Field::Scopes),
            "XAddrs" => Some(Field::XAddrs),
            "MetadataVersion" => Some(Field::MetadataVersion),
            _ => None,
        }
    }

    fn http_element(&mut self, e: &BytesStart<'_>, local: &str) -> Option<Field> {
        match local {
            // BICEPS state elements: counted, handle kept, nothing else.
            "MetricState" | "ProposedMetricState" => {
                self.out.metric_updates = self.out.metric_updates.saturating_add(1);
                self.state_handle(e);
                return None;
            }
            "AlertState" | "ProposedAlertState" => {
                self.out.alert_updates = self.out.alert_updates.saturating_add(1);
                self.state_handle(e);
                return None;
            }
            "ComponentState" | "ProposedComponentState" => {
                self.out.component_updates = self.out.component_updates.saturating_add(1);
                self.state_handle(e);
                return None;
            }
            "OperationState" => {
                self.out.operation_updates = self.out.operation_updates.saturating_add(1);
                self.state_handle(e);
                return None;
            }
            "ContextState" | "ProposedContextState" => {
                self.out.context_updates = self.out.context_updates.saturating_add(1);
                if xsi_type_local(e).as_deref() == Some("PatientContextState") {
                    self.out.patient_context_present = true;
                }
                self.state_handle(e);
                return None;
            }
            "State" => {
                self.classify_state(e);
                return None;
            }
            _ => {}
        }
        if self.out.operation_handle.is_none() {
            if let Some(h) = attr(e, "OperationHandleRef") {
                self.out.operation_handle = Some(capped(h.trim(), MAX_FIELD));
            }
        }
        let in_model = self.stack.contains(&Tag::ThisModel);
        let in_device = self.stack.contains(&Tag::ThisDevice);
        match local {
            "Manufacturer" if in_model => Some(Field::Manufacturer),
            "ModelName" if in_model => Some(Field::Model),
            "ModelNumber" if in_model => Some(Field::ModelNumber),
            "FriendlyName" if in_device => Some(Field::FriendlyName),
            "FirmwareVersion" if in_device => Some(Field::Firmware),
            "SerialNumber" if in_device => Some(Field::Serial),
            "OperationHandleRef" => Some(Field::OperationHandle),
            "InvocationState" => Some(Field::InvocationState),
            "TransactionId" => Some(Field::TransactionId),
            "Filter" => Some(Field::Filter),
            "Expires" => Some(Field::Expires),
            "Value" if self.fault && self.parent() == Some(Tag::Code) => Some(Field::FaultCode),
            "Value" if self.fault && self.parent() == Some(Tag::Subcode) => {
                Some(Field::FaultSubcode)
            }
            _ => None,
        }
    }

    /// `pm:State` (GetMdib's MdState, WaveformStream, GetMdState): classified by `xsi:type`.
    fn classify_state(&mut self, e: &BytesStart<'_>) {
        let ty = xsi_type_local(e).unwrap_or_default();
        let ty: &str = &ty;
        let o = &mut self.out;
        if ty.ends_with("MetricState") {
            o.metric_updates = o.metric_updates.saturating_add(1);
        } else if ty.starts_with("Alert") || ty.ends_with("AlertConditionState") {
            o.alert_updates = o.alert_updates.saturating_add(1);
        } else if ty.ends_with("OperationState") {
            o.operation_updates = o.operation_updates.saturating_add(1);
        } else if ty.ends_with("ContextState") && ty != "SystemContextState" {
            o.context_updates = o.context_updates.saturating_add(1);
            if ty == "PatientContextState" {
                o.patient_context_present = true;
            }
        } else {
            o.component_updates = o.component_updates.saturating_add(1);
        }
        self.state_handle(e);
    }

    fn state_handle(&mut self, e: &BytesStart<'_>) {
        let Some(h) = attr(e, "DescriptorHandle") else {
            return;
        };
        let h = h.trim();
        if self.out.handles.iter().any(|x| x == h) {
            return;
        }
        if self.out.handles.len() >= MAX_HANDLES {
            self.out.handles_truncated = true;
            return;
        }
        self.out.handles.push(capped(h, MAX_FIELD));
    }

    fn parent(&self) -> Option<Tag> {
        self.stack.last().copied()
    }

    fn open_capture(&mut self, f: Option<Field>, depth: usize, empty: bool) {
        if let Some(field) = f {
            if self.capture.is_none() {
                self.capture = Some(Capture {
                    field,
                    depth,
                    text: String::new(),
                });
                if empty {
                    self.close_capture(None);
                }
            }
        }
    }

    fn text(&mut self, s: &str) {
        let depth = self.stack.len();
        if let Some(c) = self.capture.as_mut() {
            // Only text directly inside the captured element (depth+1 is its content level).
            if c.depth.checked_add(1) == Some(depth) {
                push_capped(&mut c.text, s, c.field.cap());
            }
        }
    }

    fn end(&mut self, ns: &NamespaceResolver) {
        if let Some(c) = &self.capture {
            if c.depth.checked_add(1) == Some(self.stack.len()) {
                self.close_capture(Some(ns));
            }
        }
        self.stack.pop();
        if self.stack.len() == 1 {
            self.in_header = false;
            self.in_body = false;
        }
    }

    /// Commits the captured text. `r` (with the closing element's namespace bindings still in scope)
    /// resolves the QNames of a Types list.
    fn close_capture(&mut self, r: Option<&NamespaceResolver>) {
        let Some(c) = self.capture.take() else { return };
        let text = c.text.trim();
        let o = &mut self.out;
        let set = |slot: &mut Option<String>| {
            if slot.is_none() && !text.is_empty() {
                *slot = Some(text.to_owned());
            }
        };
        match c.field {
            Field::Action => set(&mut o.action),
            Field::MessageId => set(&mut o.message_id),
            Field::RelatesTo => set(&mut o.relates_to),
            Field::To => set(&mut o.to),
            Field::Manufacturer => set(&mut o.manufacturer),
            Field::Model => set(&mut o.model),
            Field::ModelNumber => set(&mut o.model_number),
            Field::Firmware => set(&mut o.firmware),
            Field::Serial => set(&mut o.serial),
            Field::FriendlyName => set(&mut o.friendly_name),
            Field::OperationHandle => set(&mut o.operation_handle),
            Field::InvocationState => set(&mut o.invocation_state),
            Field::Expires => set(&mut o.expires),
            Field::FaultCode => set(&mut o.fault_code),
            Field::FaultSubcode => set(&mut o.fault_subcode),
            Field::TransactionId => {
                if o.transaction_id.is_none() {
                    o.transaction_id = text.parse().ok();
                }
            }
            Field::Filter => {
                for a in text.split_ascii_whitespace() {
                    if o.filter_actions.len() >= MAX_LIST {
                        break;
                    }
                    o.filter_actions.push(capped(a, MAX_FIELD));
                }
            }
            Field::Epr | Field::Types | Field::Scopes | Field::XAddrs | Field::MetadataVersion => {
                let Some(entry) = o.entries.last_mut() else {
                    return;
                };
                fill_entry(entry, c.field, text, r);
            }
        }
    }
}

/// Brings an element's namespace bindings into scope (a new scope, as quick-xml's NsReader does for
/// every start and empty element). Only an element whose attribute text contains `xmlns` can declare
/// any; the others get their scope without their attributes being parsed.
fn push_scope(
    ns: &mut NamespaceResolver,
    e: &BytesStart<'_>,
    xmlns: &memchr::memmem::Finder<'_>,
) -> Result<(), NamespaceError> {
    if xmlns.find(e.attributes_raw().as_bytes()).is_some() {
        ns.push(e)
    } else {
        ns.push(&BytesStart::new(""))
    }
}

/// Splits a whitespace-separated list into at most [`MAX_LIST`] capped items.
fn split_list(text: &str, dst: &mut Vec<String>, truncated: &mut bool, f: impl Fn(&str) -> String) {
    for item in text.split_ascii_whitespace() {
        if dst.len() >= MAX_LIST {
            *truncated = true;
            return;
        }
        dst.push(f(item));
    }
}

/// Expands a QName from element content with the bindings in scope: `{namespace}Local`, or the QName as
/// sent when the prefix is unknown.
fn expand_qname(r: Option<&NamespaceResolver>, q: &str) -> String {
    if let Some(r) = r {
        if let (ResolveResult::Bound(ns), local) = r.resolve_element(QName(q)) {
            let mut out = String::with_capacity(
                ns.0.len()
                    .saturating_add(local.as_ref().len())
                    .saturating_add(2),
            );
            out.push('{');
            push_capped(&mut out, ns.0, MAX_FIELD);
            out.push('}');
            push_capped(&mut out, local.as_ref(), MAX_FIELD);
            return out;
        }
    }
    capped(q, MAX_FIELD)
}

fn fill_entry(entry: &mut DiscoEntry, f: Field, text: &str, r: Option<&NamespaceResolver>) {
    match f {
        Field::Epr if entry.epr.is_none() && !text.is_empty() => {
            entry.epr = Some(capped(text, MAX_FIELD));
        }
        Field::Types => split_list(text, &mut entry.types, &mut entry.lists_truncated, |q| {
            expand_qname(r, q)
        }),
        Field::Scopes => {
            for item in text.split_ascii_whitespace() {
                if is_patient_scope(item) {
                    // Never report a patient-context scope: it may carry a patient identifier.
                    entry.patient_scope = true;
                    continue;
                }
                if entry.scopes.len() >= MAX_LIST {
                    entry.lists_truncated = true;
                    break;
                }
                entry.scopes.push(capped(item, MAX_FIELD));
            }
        }
        Field::XAddrs => split_list(text, &mut entry.xaddrs, &mut entry.lists_truncated, |a| {
            capped(a, MAX_FIELD)
        }),
        Field::MetadataVersion => entry.metadata_version = text.parse().ok(),
        _ => {}
    }
}

/// A scope derived from a PatientContext identification (IEEE 11073-20701 §9.4: context scopes are
/// `sdc.ctxt.<type>:`; `pat` is the patient). Also catches the percent-encoded forms.
pub(crate) fn is_patient_scope(scope: &str) -> bool {
    let lower = scope.get(..16).unwrap_or(scope).to_ascii_lowercase();
    lower.starts_with("sdc.ctxt.pat")
}

/// The unescaped value of the attribute with local name `local` (any prefix).
fn attr<'a>(e: &'a BytesStart<'_>, local: &str) -> Option<std::borrow::Cow<'a, str>> {
    let mut attrs = e.attributes();
    attrs.with_checks(false);
    for a in attrs.take(MAX_ATTRS) {
        let Ok(a) = a else { return None };
        if local_of(a.key.0) == local {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .unwrap_or_else(|_| a.value.clone());
            return Some(v);
        }
    }
    None
}

/// The local part of an element's `xsi:type` (`pm:NumericMetricState` gives `NumericMetricState`),
/// borrowed where the value needs no normalisation.
fn xsi_type_local<'a>(e: &'a BytesStart<'_>) -> Option<std::borrow::Cow<'a, str>> {
    let v = attr(e, "type")?;
    Some(match v {
        std::borrow::Cow::Borrowed(b) => std::borrow::Cow::Borrowed(local_of(b.trim())),
        std::borrow::Cow::Owned(o) => std::borrow::Cow::Owned(local_of(o.trim()).to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(doc: &[u8]) -> Scan {
        scan(doc, Mode::Http, false)
    }

    // BICEPS GetMdibResponse (IEEE 11073-10207 msg:GetMdibResponse with pm:MdState): states counted by
    // xsi:type, patient data never copied.
    #[test]
    fn getmdib_response_counts_states_and_hides_patient() {
        let s = http(include_bytes!("testdata/biceps_getmdib_response.xml"));
        assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
        assert_eq!(s.message.as_deref(), Some("GetMdibResponse"));
        assert_eq!(s.relates_to.as_deref(), Some("urn:uuid:req-1"));
        assert_eq!(s.mdib_version, Some(42));
        assert_eq!(s.metric_updates, 1);
        assert_eq!(s.alert_updates, 1);
        assert_eq!(s.context_updates, 2);
        assert_eq!(s.component_updates, 1);
        assert_eq!(s.operation_updates, 1);
        assert!(s.patient_context_present);
        assert_eq!(
            s.handles,
            ["mds0", "hr", "ac0", "pc0", "lc0", "op_set_hr_limit"]
        );
        let dbg = format!("{s:?}");
        for phi in ["Jane", "Roe", "1970-01-01", "PAT-0042", "72"] {
            assert!(!dbg.contains(phi), "{phi} leaked: {dbg}");
        }
    }

    // BICEPS SetValue (IEEE 11073-10207 msg:SetValue): operation handle from the element.
    #[test]
    fn set_value_request() {
        let s = http(include_bytes!("testdata/biceps_setvalue.xml"));
        assert_eq!(s.message.as_deref(), Some("SetValue"));
        assert_eq!(s.operation_handle.as_deref(), Some("op_set_hr_limit"));
        assert_eq!(s.message_id.as_deref(), Some("urn:uuid:req-2"));
        assert!(!format!("{s:?}").contains("120"));
    }

    // msg:SetValueResponse/msg:InvocationInfo and msg:OperationInvokedReport (handle as attribute).
    #[test]
    fn invocation_info() {
        let s = http(include_bytes!("testdata/biceps_setvalue_response.xml"));
        assert_eq!(s.invocation_state.as_deref(), Some("Wait"));
        assert_eq!(s.transaction_id, Some(7));
        assert_eq!(s.operation_handle, None);
        let s = http(include_bytes!(
            "testdata/biceps_operation_invoked_report.xml"
        ));
        assert_eq!(s.message.as_deref(), Some("OperationInvokedReport"));
        assert_eq!(s.invocation_state.as_deref(), Some("Fin"));
        assert_eq!(s.operation_handle.as_deref(), Some("op_set_hr_limit"));
        assert_eq!(s.transaction_id, Some(7));
    }

    #[test]
    fn episodic_metric_report() {
        let s = http(include_bytes!("testdata/biceps_episodic_metric_report.xml"));
        assert_eq!(s.message.as_deref(), Some("EpisodicMetricReport"));
        assert_eq!(s.metric_updates, 2);
        assert_eq!(s.handles, ["hr", "spo2"]);
        assert_eq!(s.mdib_version, Some(45));
    }

    // DPWS 1.1 §4.1: ThisModel / ThisDevice in a WS-Transfer GetResponse.
    #[test]
    fn dpws_metadata() {
        let s = http(include_bytes!("testdata/dpws_get_response.xml"));
        assert_eq!(s.message.as_deref(), Some("Metadata"));
        assert_eq!(s.manufacturer.as_deref(), Some("ACME Medical"));
        assert_eq!(s.model.as_deref(), Some("VitalMon"));
        assert_eq!(s.model_number.as_deref(), Some("VM-2"));
        assert_eq!(s.friendly_name.as_deref(), Some("Bed 3 monitor"));
        assert_eq!(s.firmware.as_deref(), Some("4.1.2"));
        assert_eq!(s.serial.as_deref(), Some("SN-0001"));
    }

    // WS-Eventing Subscribe with a DPWS action filter (DPWS 1.1 §6.5).
    #[test]
    fn subscribe_filter() {
        let s = http(include_bytes!("testdata/wse_subscribe.xml"));
        assert_eq!(s.message.as_deref(), Some("Subscribe"));
        assert_eq!(s.expires.as_deref(), Some("PT60S"));
        assert_eq!(s.filter_actions.len(), 2);
        assert!(s.filter_actions[1].ends_with("/EpisodicAlertReport"));
    }

    // SOAP 1.2 Part 1 §5.4 Fault with Code/Value and Subcode/Value.
    #[test]
    fn soap_fault() {
        let doc = br#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://www.w3.org/2005/08/addressing"><env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>wsa:ActionNotSupported</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">no</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>"#;
        let s = http(doc);
        assert_eq!(s.message.as_deref(), Some("Fault"));
        assert_eq!(s.fault_code.as_deref(), Some("env:Sender"));
        assert_eq!(s.fault_subcode.as_deref(), Some("wsa:ActionNotSupported"));
    }

    #[test]
    fn entities_and_caps_in_text() {
        let long = "x".repeat(5000);
        let doc = format!(
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><a:Action xmlns:a="u">a&amp;b&#x41;<![CDATA[c]]></a:Action><a:To xmlns:a="u">{long}</a:To></s:Header><s:Body/></s:Envelope>"#
        );
        let s = http(doc.as_bytes());
        assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
        assert_eq!(s.action.as_deref(), Some("a&bAc"));
        assert_eq!(s.to.as_ref().map(String::len), Some(MAX_FIELD));
    }

    #[test]
    fn hostile_documents() {
        let env = |inner: &str| {
            format!(
                r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>{inner}</s:Body></s:Envelope>"#
            )
        };
        let deep = env(&format!("{}{}", "<a>".repeat(100), "</a>".repeat(100)));
        assert_eq!(http(deep.as_bytes()).anomalies[0].0, "xml_too_deep");
        let many = env(&"<a/>".repeat(60_000));
        assert_eq!(
            http(many.as_bytes()).anomalies[0].0,
            "xml_too_many_elements"
        );
        let ns = env(&format!(
            "<a {}/>",
            (0..300)
                .map(|i| format!("xmlns:p{i}=\"u{i}\""))
                .collect::<Vec<_>>()
                .join(" ")
        ));
        assert_eq!(http(ns.as_bytes()).anomalies[0].0, "xml_malformed");
        let mismatched = env("<a></b>");
        assert_eq!(http(mismatched.as_bytes()).anomalies[0].0, "xml_malformed");
        assert_eq!(
            scan(b"<notsoap/>", Mode::Discovery, false).anomalies[0].0,
            "not_soap_envelope"
        );
        // Over HTTP, plain XML (a WSDL) is named, not an anomaly.
        let wsdl = http(br#"<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"/>"#);
        assert!(wsdl.anomalies.is_empty());
        assert_eq!(wsdl.message.as_deref(), Some("definitions"));
        // Handles are capped; many attributes per element do not slow the scan down.
        let states: String = (0..100)
            .map(|i| format!(r#"<m:MetricState DescriptorHandle="h{i}"/>"#))
            .collect();
        let s = http(env(&format!("<m:R xmlns:m=\"u\">{states}</m:R>")).as_bytes());
        assert_eq!(s.metric_updates, 100);
        assert_eq!(s.handles.len(), MAX_HANDLES);
        assert!(s.handles_truncated);
    }

    /// Namespace scopes as XML Namespaces 1.0 §6.1 has them (and quick-xml's NsReader kept them): a
    /// binding holds inside its element, the end tag included, and not after it; the reserved
    /// prefixes cannot be rebound.
    #[test]
    fn namespace_scopes_and_reserved_prefixes() {
        let probe = |body: &str| {
            let d = format!(
                r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:d="http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01"><s:Body><d:Probe>{body}</d:Probe></s:Body></s:Envelope>"#
            );
            scan(d.as_bytes(), Mode::Discovery, false)
        };
        let s = probe(r#"<d:Types xmlns:x="urn:a">x:T y:U</d:Types>"#);
        assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
        assert_eq!(s.entries[0].types, ["{urn:a}T", "y:U"]);
        let s = probe(r#"<e xmlns:x="urn:a"/><f xmlns:x="urn:b"></f><d:Types>x:T</d:Types>"#);
        assert_eq!(s.entries[0].types, ["x:T"]);
        let s = probe(r#"<e xmlns:x="urn:a"><d:Types>x:T</d:Types></e>"#);
        assert_eq!(s.entries[0].types, ["{urn:a}T"]);
        for bad in [
            r#"<e xmlns:xml="urn:not-xml"/>"#,
            r#"<e xmlns:xmlns="urn:x"/>"#,
            r#"<e xmlns:p="http://www.w3.org/XML/1998/namespace"/>"#,
        ] {
            let s = probe(bad);
            assert_eq!(s.anomalies.len(), 1, "{bad}");
            assert_eq!(s.anomalies[0].0, "xml_malformed", "{bad}");
        }
    }

    #[test]
    fn truncated_prefix_is_not_an_anomaly() {
        let doc = include_bytes!("testdata/biceps_getmdib_response.xml");
        let s = scan(&doc[..doc.len() / 2], Mode::Http, true);
        assert!(s.anomalies.is_empty());
        assert_eq!(s.message.as_deref(), Some("GetMdibResponse"));
        let s = scan(&doc[..doc.len() / 2], Mode::Http, false);
        assert_eq!(s.anomalies.len(), 1);
    }

    #[test]
    fn patient_scope_detection() {
        assert!(is_patient_scope("sdc.ctxt.pat:/x/y"));
        assert!(is_patient_scope("SDC.CTXT.PAT:/x"));
        assert!(!is_patient_scope("sdc.ctxt.loc:/x"));
        assert!(!is_patient_scope("s"));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(d in proptest::collection::vec(proptest::num::u8::ANY, 0..4096), t in proptest::bool::ANY) {
            let _ = scan(&d, Mode::Http, t);
            let _ = scan(&d, Mode::Discovery, t);
        }

        #[test]
        fn every_prefix_of_a_report_scans(cut in 0usize..2187) {
            let doc = include_bytes!("testdata/biceps_getmdib_response.xml");
            let s = scan(&doc[..cut.min(doc.len())], Mode::Http, true);
            proptest::prop_assert!(s.anomalies.is_empty());
        }
    }
}
