"""sdc11073 (IEEE 11073 SDC) peers for captures/sdc/*.pcap.

  sdc_peer.py provider IP KIND SECONDS [CERTDIR]
      KIND monitor: MDIB tests/70041_MDIB_Final.xml of the sdc11073 source (a Draeger
            multi-parameter monitor MDIB: 44 numerics, 18 waveforms, alerts, SCO)
      KIND pump: MDIB tutorial/provider/mdib.xml of the sdc11073 source with its Type/Unit
            codes replaced by infusion-pump MDC codes (MDS 69985, VMD 69986, channel
            126978, rate 157784 mL/h, volume delivered 157872 mL)
      Role providers: the sdc11073 tutorial's ExampleProduct + GenericWaveformProvider.
      Sets a synthetic patient context, updates numerics and alert presence every 0.5 s,
      streams 2 waveforms; stops after SECONDS (sends WS-Discovery Bye).
  sdc_peer.py consumer IP SECONDS [CERTDIR] [NEWCONSUMER]
      WS-Discovery Probe (+Resolve), for each provider found: GetMetadata, Subscribe, GetMdib,
      receives episodic/waveform reports, renews, invokes SetValue / Activate, Unsubscribe.

The sdc11073 source tree (tutorial/, tests/) is found through $SDC11073_SRC.
"""
import os
import sys
import time
import uuid
from decimal import Decimal

SRC = os.environ.get("SDC11073_SRC", "/tmp/sdc11073-src")
sys.path.insert(0, SRC)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synth  # noqa: E402

BASE = uuid.UUID("{3f1e4a52-61b0-4c5e-9d0a-6c1d2e0f7a10}")

PUMP_CODES = [
    ('Code="130535"', 'Code="69985"'),  # MDS -> MDC_DEV_PUMP_INFUS_MDS
    ('Code="130536"', 'Code="69986"'),  # VMD -> MDC_DEV_PUMP_INFUS_VMD
    ('Code="130637"', 'Code="126978"'),  # channel -> MDC_DEV_PUMP_INFUS_CHAN_DELIVERY
    ('Code="196174"', 'Code="157784"'),  # numeric -> MDC_FLOW_FLUID_PUMP
    ('Code="196074"', 'Code="157872"'),  # numeric -> MDC_VOL_FLUID_DELIV
]


def ssl_ctx(certdir):
    if not certdir:
        return None
    from sdc11073.certloader import mk_ssl_contexts_from_folder

    return mk_ssl_contexts_from_folder(ca_folder=certdir, private_key="key.pem", certificate="cert.pem",
                                       ca_public_key="ca.pem", cyphers_file=None, ssl_passwd=None)


_MDIB = [None]


def _adapt_tutorial():
    """The sdc11073 tutorial role providers build ExecuteResult(target, state) (older field
    order); sdc11073 3.0.0 wants ExecuteResult(invocation_state, mdib_version_group, target).
    Give the tutorial modules an adapter so their operations answer instead of faulting."""
    import importlib

    from sdc11073.provider.operations import ExecuteResult

    def adapter(target, state, *rest):
        return ExecuteResult(state, _MDIB[0].mdib_version_group, target)

    for name in ["alarmprovider", "audiopauseprovider", "clockprovider", "componentprovider",
                 "contextprovider", "metricprovider", "operationprovider", "providerbase"]:
        try:
            mod = importlib.import_module(f"tutorial.productandroles.{name}")
        except ImportError:
            continue
        if hasattr(mod, "ExecuteResult"):
            mod.ExecuteResult = adapter


def provider(ip, kind, seconds, certdir=None):
    from sdc11073.location import SdcLocation
    from sdc11073.mdib import ProviderMdib
    from sdc11073.provider import SdcProvider
    from sdc11073.wsdiscovery import WSDiscovery
    from sdc11073.xml_types import pm_qnames as pm
    from sdc11073.xml_types import pm_types
    from sdc11073.xml_types.dpws_types import ThisDeviceType, ThisModelType
    from tutorial.productandroles.exampleproduct import EXAMPLE_ROLE_PROVIDER_COMPONENTS
    from tutorial.productandroles.waveformprovider import waveformgenerators as wg

    seconds = float(seconds)
    _adapt_tutorial()
    if kind == "monitor":
        mdib = ProviderMdib.from_mdib_file(os.path.join(SRC, "tests", "70041_MDIB_Final.xml"))
        model = ThisModelType(manufacturer="SynthMed Devices", manufacturer_url="www.example.org",
                              model_name="SynthMonitor MX40", model_number="MX40-2",
                              model_url="www.example.org/mx40", presentation_url="www.example.org/mx40/p")
        device = ThisDeviceType(friendly_name="Bedside monitor bed 4", firmware_version="4.2.17",
                                serial_number="SMX40-000417")
        loc = SdcLocation(fac="SYNHOSP", poc="ICU", bed="BED04")
    else:
        xml = open(os.path.join(SRC, "tutorial", "provider", "mdib.xml"), "rb").read().decode()
        for a, b in PUMP_CODES:
            xml = xml.replace(a, b)
        xml = xml.replace('Code="262656"', 'Code="265266"', 1)  # first numeric unit -> mL/h
        mdib = ProviderMdib.from_string(xml.encode())
        model = ThisModelType(manufacturer="SynthMed Devices", manufacturer_url="www.example.org",
                              model_name="SynthPump IP7", model_number="IP7-1",
                              model_url="www.example.org/ip7", presentation_url="www.example.org/ip7/p")
        device = ThisDeviceType(friendly_name="Infusion pump bed 4 ch A", firmware_version="2.9.3",
                                serial_number="SIP7-009921")
        loc = SdcLocation(fac="SYNHOSP", poc="ICU", bed="BED04")
    epr = uuid.uuid5(BASE, kind)
    _MDIB[0] = mdib
    with WSDiscovery(ip) as wsd:
        prov = SdcProvider(wsd, model, device, mdib, epr, ssl_context_container=ssl_ctx(certdir),
                           role_provider_components=EXAMPLE_ROLE_PROVIDER_COMPONENTS,
                           max_subscription_duration=6)
        prov.start_all()
        # answer operations synchronously (the delayed path of sdc11073 3.0.0 sco.py fails)
        for qn in (pm.SetValueOperationDescriptor, pm.ActivateOperationDescriptor, pm.SetStringOperationDescriptor):
            for d in mdib.descriptions.NODETYPE.get(qn, []):
                op = prov.get_operation_by_handle(d.Handle)
                if op is not None:
                    op.delayed_processing = False
        prov.set_location(loc, [pm_types.InstanceIdentifier("Validator", extension_string="System")])
        # synthetic patient context
        fam, given, pid, dob, sex = synth.PATIENTS[5]
        pdescr = mdib.descriptions.NODETYPE.get(pm.PatientContextDescriptor)
        if pdescr:
            with mdib.context_state_transaction() as mgr:
                pc = mgr.mk_context_state(pdescr[0].Handle)
                pc.CoreData.Givenname = given
                pc.CoreData.Familyname = fam
                from sdc11073.xml_types.isoduration import XsdDateInformation
                pc.CoreData.DateOfBirth = XsdDateInformation(int(dob[:4]), int(dob[4:6]), int(dob[6:]))
                pc.ContextAssociation = pm_types.ContextAssociation.ASSOCIATED
                pc.Identification = [pm_types.InstanceIdentifier("1.2.3.4.5.6", extension_string=pid)]
        # waveforms (at most 2, to keep the capture small)
        wp = prov.waveform_provider
        if wp is not None:
            wfs = [d.Handle for d in mdib.descriptions.NODETYPE.get(pm.RealTimeSampleArrayMetricDescriptor, [])]
            for k, h in enumerate(wfs[:2]):
                gen = (wg.SinusGenerator(min_value=0, max_value=50, waveform_period=1.1, sample_period=0.01)
                       if k == 0 else wg.TriangleGenerator(min_value=0, max_value=30, waveform_period=2.0,
                                                          sample_period=0.01))
                wp.register_waveform_generator(h, gen)
        numerics = [d.Handle for d in mdib.descriptions.NODETYPE.get(pm.NumericMetricDescriptor, [])][:8]
        alerts = [d.Handle for d in mdib.descriptions.NODETYPE.get(pm.AlertConditionDescriptor, [])
                  + mdib.descriptions.NODETYPE.get(pm.LimitAlertConditionDescriptor, [])][:2]
        print(kind, "up", epr, flush=True)
        t0 = time.time()
        k = 0
        while time.time() - t0 < seconds:
            k += 1
            with mdib.metric_state_transaction() as mgr:
                for j, h in enumerate(numerics):
                    st = mgr.get_state(h)
                    if st.MetricValue is None:
                        st.mk_metric_value()
                    st.MetricValue.Value = Decimal(60 + (k * 3 + j * 7) % 40)
                    st.MetricValue.Validity = pm_types.MeasurementValidity.VALID
            if alerts and k % 4 == 0:
                with mdib.alert_state_transaction() as mgr:
                    for h in alerts:
                        st = mgr.get_state(h)
                        st.Presence = not st.Presence
            time.sleep(0.5)
        prov.stop_all()  # sends Bye
        print(kind, "down", flush=True)


def consumer(ip, seconds, certdir=None, label="central"):
    from sdc11073.consumer.consumerimpl import SdcConsumer
    from sdc11073.definitions_sdc import SdcV1Definitions
    from sdc11073.mdib import ConsumerMdib
    from sdc11073.wsdiscovery import WSDiscovery
    from sdc11073.xml_types import pm_qnames as pm

    seconds = float(seconds)
    with WSDiscovery(ip) as wsd:
        services = []
        for _ in range(10):
            services = wsd.search_services(types=SdcV1Definitions.MedicalDeviceTypesFilter, timeout=3)
            if len(services) >= 1:
                break
        print(label, "found", [s.epr for s in services], flush=True)
        consumers = []
        services.sort(key=lambda s: s.epr)
        for i, s in enumerate(services):
            c = SdcConsumer.from_wsd_service(s, ssl_context_container=ssl_ctx(certdir), validate=True)
            if i % 2 == 1:
                c.set_used_compression()  # this one asks for uncompressed HTTP responses
            c.start_all()  # GetMetadata of the hosted services + Subscribe
            m = ConsumerMdib(c)
            m.init_mdib()  # GetMdib
            consumers.append((c, m))
            print(label, "connected", s.epr, c.host_description if hasattr(c, "host_description") else "", flush=True)
        time.sleep(seconds / 2)
        for c, m in consumers:
            ops = m.descriptions.NODETYPE.get(pm.SetValueOperationDescriptor, [])
            for op in ops[:1]:
                f = c.set_service_client.set_numeric_value(op.Handle, Decimal("42.5"))
                try:
                    r = f.result(timeout=10)
                    print(label, "SetValue", op.Handle, r.InvocationInfo.InvocationState, flush=True)
                except Exception as e:  # noqa: BLE001
                    print(label, "SetValue failed", e, flush=True)
            acts = m.descriptions.NODETYPE.get(pm.ActivateOperationDescriptor, [])
            for op in acts[:1]:
                f = c.set_service_client.activate(op.Handle, [])
                try:
                    r = f.result(timeout=10)
                    print(label, "Activate", op.Handle, r.InvocationInfo.InvocationState, flush=True)
                except Exception as e:  # noqa: BLE001
                    print(label, "Activate failed", e, flush=True)
        time.sleep(seconds / 2)
        for c, _m in consumers:
            c.stop_all()  # Unsubscribe
        print(label, "done", flush=True)


if __name__ == "__main__":
    m, a = sys.argv[1], sys.argv[2:]
    if m == "provider":
        provider(*a)
    else:
        consumer(*a)
