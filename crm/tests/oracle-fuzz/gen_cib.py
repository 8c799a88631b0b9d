#!/usr/bin/env python3
"""Random small CIBs with resource history, for differential testing of
ironbeat's reader, engine and renderer against crm_simulate (see README.md).

  gen_cib.py DIR FIRST_SEED END_SEED

writes DIR/xml/fSEED.xml for each seed and DIR/SUBSET-core listing them
(DIR/SUBSET-extended empty): the layout the scheduler corpus test reads.
Each CIB has 2-4 nodes in random states (member, cleanly down, lost,
controller down; standby or maintenance), optional fencing, quorum,
symmetric or opt-in placement, no-quorum-policy and orphan options;
1-5 primitives, groups, anonymous, unique, promotable and cloned-group
clones with random meta attributes and on-fail; random location,
colocation (with roles) and order (kinds, actions, symmetry) constraints;
and per node a random history: probes, running, promoted, failed monitors,
failed starts and stops, orphans, fail counts, shutdown requests. The
op-digests are the ones crm_simulate 2.1.5 records for these parameterless
agents, so no resource restarts for a definition change.
"""
import random, sys, os

UUID = "00000000-0000-0000-0000-000000000000"
DN = "f2317cad3d54cec5d7d7aa7d0bf35cf8"
DR = "4811cef7f7f94e3a35a70be7916cb2fd"

def gen(seed):
    R = random.Random(seed)
    nn = R.randint(2, 4)
    nodes = ["node%d" % i for i in range(1, nn + 1)]
    stonith = R.random() < 0.5
    out = []
    w = out.append
    w('<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.7" epoch="1" num_updates="0" admin_epoch="0" have-quorum="%d" dc-uuid="1">' % (1 if R.random() < 0.85 else 0))
    w('<configuration><crm_config><cluster_property_set id="cib-bootstrap-options">')
    w('<nvpair id="o1" name="stonith-enabled" value="%s"/>' % ("true" if stonith else "false"))
    if R.random() < 0.3:
        w('<nvpair id="o2" name="symmetric-cluster" value="false"/>')
        sym = False
    else:
        sym = True
    if R.random() < 0.2:
        w('<nvpair id="o3" name="no-quorum-policy" value="%s"/>' % R.choice(["ignore", "freeze", "stop"]))
    if R.random() < 0.2:
        w('<nvpair id="o4" name="stop-orphan-resources" value="false"/>')
    if R.random() < 0.05:
        w('<nvpair id="o5" name="maintenance-mode" value="true"/>')
    if R.random() < 0.05:
        w('<nvpair id="o6" name="stop-all-resources" value="true"/>')
    if R.random() < 0.1:
        w('<nvpair id="o7" name="no-quorum-policy" value="suicide"/>')
    if R.random() < 0.1:
        w('<nvpair id="o8" name="start-failure-is-fatal" value="false"/>')
    w('</cluster_property_set></crm_config><nodes>')
    for i, n in enumerate(nodes):
        w('<node id="%d" uname="%s">' % (i + 1, n))
        r_ = R.random()
        if r_ < 0.12:
            w('<instance_attributes id="na%d"><nvpair id="na%d-s" name="standby" value="on"/></instance_attributes>' % (i, i))
        elif r_ < 0.17:
            w('<instance_attributes id="na%d"><nvpair id="na%d-s" name="maintenance" value="true"/></instance_attributes>' % (i, i))
        w('</node>')
    w('</nodes><resources>')
    prims = []  # (id, type, clone info)
    tops = []
    def prim(rid, typ="Dummy", meta=None):
        s = '<primitive id="%s" class="ocf" provider="pacemaker" type="%s">' % (rid, typ)
        if meta:
            s += '<meta_attributes id="%s-meta">' % rid + "".join('<nvpair id="%s-m-%s" name="%s" value="%s"/>' % (rid, k, k, v) for k, v in meta) + '</meta_attributes>'
        of = R.choice([None]*6 + ["block", "stop", "ignore", "restart", "standby", "fence"])
        ofs = (' on-fail="%s"' % of) if of else ''
        s += '<operations><op id="%s-mon" name="monitor" interval="10s" timeout="20s"%s/></operations></primitive>' % (rid, ofs)
        return s
    if stonith:
        w('<primitive id="fence" class="stonith" type="fence_dummy"><operations><op id="fence-mon" name="monitor" interval="10s" timeout="20s"/></operations></primitive>')
        prims.append(("fence", None, None))
    nr = R.randint(1, 5)
    for i in range(nr):
        kind = R.choice(["p", "p", "g", "c", "m", "u", "cg"])
        meta = []
        if R.random() < 0.1:
            meta.append(("target-role", R.choice(["Stopped", "Unpromoted", "Promoted", "Started"])))
        if R.random() < 0.1:
            meta.append(("priority", str(R.randint(1, 10))))
        if R.random() < 0.05:
            meta.append(("multiple-active", R.choice(["block", "stop_only", "stop_unexpected"])))
        if R.random() < 0.1:
            meta.append(("is-managed", "false"))
        if R.random() < 0.3:
            meta.append(("resource-stickiness", str(R.choice([0, 100, 1000]))))
        if R.random() < 0.2:
            meta.append(("migration-threshold", "1"))
        if kind == "p":
            rid = "r%d" % i
            w(prim(rid, meta=meta)); prims.append((rid, None, None)); tops.append(rid)
        elif kind == "cg":
            cid = "c%d" % i
            cm = R.choice([None, 1, 2])
            w('<clone id="%s"><meta_attributes id="%s-meta">' % (cid, cid))
            if cm is not None:
                w('<nvpair id="%s-cm" name="clone-max" value="%d"/>' % (cid, cm))
            if R.random() < 0.3:
                w('<nvpair id="%s-il" name="interleave" value="true"/>' % cid)
            w('</meta_attributes>')
            gid = "c%dg" % i
            w('<group id="%s">' % gid)
            for j in range(2):
                rid = "c%dg%d" % (i, j)
                w(prim(rid)); prims.append((rid, None, (cm if cm is not None else nn, False, False)))
            w('</group></clone>'); tops.append(cid)
        elif kind == "g":
            gid = "g%d" % i
            w('<group id="%s">' % gid)
            for j in range(R.randint(2, 3)):
                rid = "g%dm%d" % (i, j)
                w(prim(rid)); prims.append((rid, None, None))
            w('</group>'); tops.append(gid)
        else:
            cid = "c%d" % i
            promotable = kind == "m"
            unique = kind == "u"
            cm = R.choice([None, 1, 2, nn])
            w('<clone id="%s"><meta_attributes id="%s-meta">' % (cid, cid))
            if cm is not None:
                w('<nvpair id="%s-cm" name="clone-max" value="%d"/>' % (cid, cm))
            if promotable:
                w('<nvpair id="%s-pr" name="promotable" value="true"/>' % cid)
            if unique:
                w('<nvpair id="%s-gu" name="globally-unique" value="true"/>' % cid)
            if R.random() < 0.3:
                w('<nvpair id="%s-il" name="interleave" value="true"/>' % cid)
            if R.random() < 0.2:
                w('<nvpair id="%s-cnm" name="clone-node-max" value="2"/>' % cid)
            if promotable and R.random() < 0.3:
                w('<nvpair id="%s-pm" name="promoted-max" value="2"/>' % cid)
            for k, v in meta:
                w('<nvpair id="%s-m-%s" name="%s" value="%s"/>' % (cid, k, k, v))
            w('</meta_attributes>')
            rid = "c%dr" % i
            w(prim(rid, "Stateful" if promotable else "Dummy"))
            prims.append((rid, "Stateful" if promotable else None, (cm if cm is not None else nn, unique, promotable)))
            w('</clone>'); tops.append(cid)
    w('</resources><constraints>')
    k = 0
    for t in tops:
        if R.random() < (0.6 if not sym else 0.3):
            for n in R.sample(nodes, R.randint(1, nn)):
                k += 1
                sc = R.choice(["INFINITY", "-INFINITY", "100", "-100", "50", "0"])
                w('<rsc_location id="l%d" rsc="%s" node="%s" score="%s"/>' % (k, t, n, sc))
    for _ in range(R.randint(0, 3)):
        if len(tops) < 2: break
        a, b = R.sample(tops, 2)
        k += 1
        roles = ""
        if R.random() < 0.3:
            roles = ' rsc-role="%s" with-rsc-role="%s"' % (R.choice(["Started", "Promoted", "Unpromoted"]), R.choice(["Started", "Promoted", "Unpromoted"]))
        if R.random() < 0.5:
            w('<rsc_colocation id="co%d" rsc="%s" with-rsc="%s" score="%s"%s/>' % (k, a, b, R.choice(["INFINITY", "-INFINITY", "100"]), roles))
        else:
            kind = R.choice(["Mandatory", "Optional", "Serialize"])
            acts = ""
            if R.random() < 0.3:
                acts = ' first-action="%s" then-action="%s"' % (R.choice(["start", "stop", "promote", "demote"]), R.choice(["start", "stop", "promote", "demote"]))
            if R.random() < 0.2:
                acts += ' symmetrical="false"'
            w('<rsc_order id="or%d" first="%s" then="%s" kind="%s"%s/>' % (k, a, b, kind, acts))
    w('</constraints></configuration><status>')
    call = [10]
    def op(rid, task, interval, rc, node_i, status=0):
        call[0] += 1
        oid = "%s_last_0" % rid if interval == 0 else "%s_monitor_%d" % (rid, interval)
        if rc not in (0, 7, 8) and interval == 0:
            oid = "%s_last_failure_0" % rid
        target = 7 if (task == "monitor" and interval == 0) else (8 if rc in (8, 9) else 0)
        key = "%d:1:%d:%s" % (call[0], target, UUID)
        return ('<lrm_rsc_op id="%s" operation_key="%s_%s_%d" operation="%s" crm-debug-origin="gen" crm_feature_set="3.16.1" transition-key="%s" transition-magic="%d:%d;%s" exit-reason="" call-id="%d" rc-code="%d" op-status="%d" interval="%d" last-rc-change="1700000000" exec-time="10" queue-time="0" op-digest="%s"/>'
                % (oid, rid, task, interval, task, key, status, rc, key, call[0], rc, status, interval, DR if interval else DN))
    # per node histories
    orphans = ["old%d" % i for i in range(R.randint(0, 1))] if R.random() < 0.3 else []
    for i, n in enumerate(nodes):
        st = R.random()
        if st < 0.7:
            attrs = 'in_ccm="true" crmd="online" join="member" expected="member"'
        elif st < 0.82:
            attrs = 'in_ccm="false" crmd="offline" join="down" expected="down"'
        elif st < 0.92:
            attrs = 'in_ccm="false" crmd="offline" join="down" expected="member"'
        else:
            attrs = 'in_ccm="true" crmd="offline" join="down" expected="member"'
        w('<node_state id="%d" uname="%s" %s crm-debug-origin="gen">' % (i + 1, n, attrs))
        w('<lrm id="%d"><lrm_resources>' % (i + 1))
        for rid, typ, ci in prims:
            ids = [rid]
            if ci and ci[1]:
                ids = ["%s:%d" % (rid, x) for x in range(ci[0] + 1)]
            for hid in ids:
                r = R.random()
                ops = []
                if r < 0.35:
                    continue
                elif r < 0.6:
                    ops.append(op(hid, "monitor", 0, 7, i))
                elif r < 0.85:
                    if typ == "Stateful" and R.random() < 0.4:
                        ops.append(op(hid, "promote", 0, 0, i)); ops.append(op(hid, "monitor", 10000, 8, i))
                    else:
                        ops.append(op(hid, "start", 0, 0, i)); ops.append(op(hid, "monitor", 10000, 0, i))
                elif r < 0.93:
                    ops.append(op(hid, "start", 0, 0, i)); ops.append(op(hid, "monitor", 10000, 1, i))
                elif r < 0.95:
                    ops.append(op(hid, "stop", 0, 1, i))
                else:
                    ops.append(op(hid, "start", 0, 1, i))
                if rid == "fence":
                    w('<lrm_resource id="fence" class="stonith" type="fence_dummy">')
                else:
                    w('<lrm_resource id="%s" class="ocf" provider="pacemaker" type="%s">' % (hid, typ or "Dummy"))
                w("".join(ops))
                w('</lrm_resource>')
        for o in orphans:
            if R.random() < 0.5:
                w('<lrm_resource id="%s" class="ocf" provider="pacemaker" type="Dummy">' % o)
                w(op(o, "start", 0, 0, i) + op(o, "monitor", 10000, 0, i))
                w('</lrm_resource>')
        w('</lrm_resources></lrm>')
        if R.random() < 0.05:
            w('<transient_attributes id="s%d"><instance_attributes id="sd%d"><nvpair id="sd%d-f" name="shutdown" value="1700000000"/></instance_attributes></transient_attributes>' % (i + 1, i, i))
        elif R.random() < 0.1:
            w('<transient_attributes id="%d"><instance_attributes id="st%d"><nvpair id="st%d-f" name="fail-count-%s#monitor_10000" value="%d"/></instance_attributes></transient_attributes>' % (i + 1, i, i, R.choice(prims)[0], R.randint(1, 3)))
        w('</node_state>')
    w('</status></cib>')
    return "\n".join(out)

if __name__ == "__main__":
    d = sys.argv[1]; a = int(sys.argv[2]); b = int(sys.argv[3])
    os.makedirs(d + "/xml", exist_ok=True); os.makedirs(d + "/summary", exist_ok=True)
    names = []
    for s in range(a, b):
        name = "f%d" % s
        open("%s/xml/%s.xml" % (d, name), "w").write(gen(s))
        names.append(name)
    open(d + "/SUBSET-core", "w").write("\n".join(names) + "\n")
    open(d + "/SUBSET-extended", "w").write("")
