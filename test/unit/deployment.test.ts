/**
 * The Kubernetes and Docker swarm examples in config/ hold a guardpost
 * config and the manifests that mount its files. Nothing orchestrates here,
 * so the manifests are read as data and checked to line up with the config
 * they carry: the secret's file names are the config's tls paths, the config
 * and ACL land where the config says, the probes and ports are the
 * config's listeners, and `guardpost serve --check` passes on the files laid
 * out as the container would see them.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { parseAllDocuments, parse } from "yaml";
import { loadAcl } from "../../src/acl/compile.js";
import { parseConfigText } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";
import { parseDuration } from "../../src/config/units.js";
import { checkUnderRoot, createMaterial, layOut, type Material } from "../helpers/container.js";
import { tempDir } from "../helpers/pki.js";
import { formatErrors, parseYaml, schemaErrors } from "../helpers/schemas.js";

const CONFIG_DIR = "/etc/guardpost";
const CONFIG_FILE = `${CONFIG_DIR}/guardpost.yaml`;
/** The keys cert-manager writes into a Certificate's Secret. */
const CERT_MANAGER_KEYS = { cert: "tls.crt", key: "tls.key", ca: "ca.crt" } as const;

type Manifest = { kind: string; metadata: { name: string }; spec?: any; data?: Record<string, string> } & Record<string, any>;

/** Orchestrators read YAML 1.1: `0440` is an octal file mode there. */
function readManifests(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(file, "utf8"), { version: "1.1" }).map((doc) => doc.toJS() as Manifest);
}

const port = (address: { port: number }) => address.port;

let material: Material;
beforeAll(async () => {
  material = await createMaterial();
});

describe("Kubernetes: config/kubernetes/", () => {
  const manifests = readdirSync("config/kubernetes")
    .filter((name) => name.endsWith(".yaml"))
    .flatMap((name) => readManifests(join("config/kubernetes", name)));
  const find = (kind: string, name?: string) => {
    const found = manifests.find((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
    if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ""} in config/kubernetes/`);
    return found;
  };

  const deployment = find("Deployment");
  const pod = deployment.spec.template.spec;
  const guardpost = pod.containers.find((c: any) => c.name === "guardpost");
  const mount = (path: string) => {
    const volumeMount = guardpost.volumeMounts.find((m: any) => m.mountPath === path);
    return { mount: volumeMount, volume: volumeMount && pod.volumes.find((v: any) => v.name === volumeMount.name) };
  };
  const secretMount = mount("/run/secrets");
  const configMount = mount(CONFIG_DIR);
  const certificate = manifests.find((m) => m.kind === "Certificate" && m.spec.secretName === secretMount.volume?.secret?.secretName)!;
  const configMap = find("ConfigMap", configMount.volume?.configMap?.name);
  const config: Config = parseConfigText(CONFIG_FILE, configMap.data!["guardpost.yaml"]!);
  const namedPort = (value: string | number) => (typeof value === "number" ? value : guardpost.ports.find((p: any) => p.name === value)?.containerPort);

  test("the guardpost container mounts a cert-manager Certificate's Secret read-only at /run/secrets", () => {
    expect(secretMount.mount.readOnly).toBe(true);
    expect(certificate).toBeDefined();
    expect(certificate.spec.issuerRef.name).toBe(find("Issuer", certificate.spec.issuerRef.name).metadata.name);
  });

  test("the config's tls paths are the files cert-manager writes into that Secret", () => {
    expect({ cert: config.tls.cert, key: config.tls.key, ca: config.tls.ca }).toEqual({
      cert: `/run/secrets/${CERT_MANAGER_KEYS.cert}`,
      key: `/run/secrets/${CERT_MANAGER_KEYS.key}`,
      ca: `/run/secrets/${CERT_MANAGER_KEYS.ca}`,
    });
  });

  test("the Certificate is short-lived ECDSA P-256 for server and client auth, renewed before guardpost warns", () => {
    const { spec } = certificate;
    expect(spec.privateKey).toMatchObject({ algorithm: "ECDSA", size: 256, rotationPolicy: "Always" });
    expect(spec.usages).toEqual(expect.arrayContaining(["server auth", "client auth", "digital signature"]));
    expect(spec.subject.organizationalUnits.length).toBeGreaterThan(0);
    const duration = parseDuration(spec.duration)!;
    const renewBefore = parseDuration(spec.renewBefore)!;
    expect(duration).toBeLessThanOrEqual(parseDuration("24h")!);
    // guardpost warns once less than 20% of the lifetime is left without a rotation.
    expect(renewBefore / duration).toBeGreaterThan(0.2);
  });

  test("the ConfigMap is mounted read-only at /etc/guardpost, holds a valid config and every ACL it names", () => {
    expect(configMount.mount.readOnly).toBe(true);
    const configText = configMap.data!["guardpost.yaml"]!;
    expect(formatErrors(schemaErrors("config", parseYaml(configText)))).toBe("");
    for (const route of config.inbound.flatMap((inbound) => inbound.routes)) {
      expect(dirname(route.acl)).toBe(CONFIG_DIR);
      const acl = configMap.data![posix.basename(route.acl)];
      expect(acl, `${route.acl} is not in the ConfigMap`).toBeDefined();
      expect(formatErrors(schemaErrors("acl", parseYaml(acl!)))).toBe("");
    }
  });

  test("the probes ask /readyz and /healthz on admin.listen, reachable from the kubelet", () => {
    expect(guardpost.readinessProbe.httpGet.path).toBe("/readyz");
    expect(guardpost.livenessProbe.httpGet.path).toBe("/healthz");
    expect(namedPort(guardpost.readinessProbe.httpGet.port)).toBe(port(config.admin.listen));
    expect(namedPort(guardpost.livenessProbe.httpGet.port)).toBe(port(config.admin.listen));
    expect(config.admin.listen.host).toBe("0.0.0.0");
  });

  test("the Service sends callers to guardpost's inbound port, never to the app", () => {
    const service = find("Service");
    expect(service.spec.selector).toEqual(deployment.spec.template.metadata.labels);
    for (const servicePort of service.spec.ports) expect(namedPort(servicePort.targetPort)).toBe(port(config.inbound[0]!.listen));
    const app = pod.containers.find((c: any) => c.name !== "guardpost");
    expect(app.ports ?? []).toEqual([]);
    expect(config.inbound[0]!.routes[0]!.upstream).toMatchObject({ kind: "http", origin: "http://127.0.0.1:8080" });
  });

  test("guardpost runs non-root on a read-only root filesystem, with resources, and can drain before it is killed", () => {
    expect(guardpost.args ?? ["serve"]).toEqual(["serve"]);
    expect(guardpost.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    expect(guardpost.resources.requests).toBeDefined();
    expect(guardpost.resources.limits.memory).toBeDefined();
    // The service account token would otherwise be mounted inside the read-only /run/secrets.
    expect(pod.automountServiceAccountToken).toBe(false);
    const preStop = Number(guardpost.lifecycle?.preStop?.exec?.command?.at(-1) ?? 0) * 1000;
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(preStop + config.drainTimeout);
  });

  test("guardpost serve --check passes on the files as the pod mounts them", async () => {
    const root = tempDir();
    const configFiles = Object.fromEntries(Object.entries(configMap.data!).map(([key, text]) => [`${CONFIG_DIR}/${key}`, text]));
    layOut(root, {
      ...configFiles,
      [`/run/secrets/${CERT_MANAGER_KEYS.cert}`]: material.cert,
      [`/run/secrets/${CERT_MANAGER_KEYS.key}`]: material.key,
      [`/run/secrets/${CERT_MANAGER_KEYS.ca}`]: material.ca,
    });
    expect((await checkUnderRoot(root, CONFIG_FILE)).stderr).toBe("");
  });
});

describe("Docker swarm: config/swarm/stack.yml", () => {
  const stackFile = "config/swarm/stack.yml";
  const stack = parse(readFileSync(stackFile, "utf8"), { version: "1.1" }) as Record<string, any>;
  const [serviceName, service] = Object.entries(stack.services as Record<string, any>).find(([, s]) => s.configs?.some((c: any) => c.target === CONFIG_FILE))!;
  const configTargets = new Map<string, string>(service.configs.map((c: any) => [c.target, join(dirname(stackFile), stack.configs[c.source].file)]));
  const config: Config = parseConfigText(CONFIG_FILE, readFileSync(configTargets.get(CONFIG_FILE)!, "utf8"));

  test("guardpost gets the swarm secrets service.crt, service.key and ca.crt, readable by the node user, as its tls files", () => {
    const secrets = new Map<string, any>(service.secrets.map((s: any) => [s.target, s]));
    expect([...secrets.keys()].sort()).toEqual(["ca.crt", "service.crt", "service.key"]);
    expect({ cert: config.tls.cert, key: config.tls.key, ca: config.tls.ca }).toEqual({ cert: "/run/secrets/service.crt", key: "/run/secrets/service.key", ca: "/run/secrets/ca.crt" });
    for (const secret of secrets.values()) {
      expect(stack.secrets[secret.source]).toBeDefined();
      expect(secret.uid).toBe("1000");
    }
    expect(secrets.get("service.key").mode).toBe(0o400);
  });

  test("the config and every ACL it names are swarm configs at the paths the config gives", () => {
    expect(formatErrors(schemaErrors("config", parseYaml(readFileSync(configTargets.get(CONFIG_FILE)!, "utf8"))))).toBe("");
    for (const route of config.inbound.flatMap((inbound) => inbound.routes)) {
      const source = configTargets.get(route.acl);
      expect(source, `${route.acl} is not a config target of ${serviceName}`).toBeDefined();
      expect(() => loadAcl(source!)).not.toThrow();
    }
  });

  test("guardpost publishes its inbound port; the app publishes nothing and shares only a private network with it", () => {
    expect(service.ports.map((p: any) => p.target)).toEqual([port(config.inbound[0]!.listen)]);
    const upstream = config.inbound[0]!.routes[0]!.upstream;
    expect(upstream.kind).toBe("http");
    const appName = new URL(upstream.kind === "http" ? upstream.origin : "http://x").hostname;
    const app = stack.services[appName];
    expect(app, `the upstream host ${appName} is not a service of the stack`).toBeDefined();
    expect(app.ports).toBeUndefined();
    expect(app.networks.every((n: string) => service.networks.includes(n) && stack.networks[n].internal === true)).toBe(true);
  });

  test("the image's HEALTHCHECK reaches admin.listen and the stop grace period covers the drain", () => {
    const dockerfile = readFileSync("Dockerfile", "utf8");
    const healthUrl = new URL(/GUARDPOST_HEALTHCHECK_URL=(\S+)/.exec(dockerfile)![1]!);
    expect(Number(healthUrl.port)).toBe(port(config.admin.listen));
    expect(["127.0.0.1", "0.0.0.0"]).toContain(config.admin.listen.host);
    expect(service.healthcheck?.disable).not.toBe(true);
    expect(service.read_only).toBe(true);
    expect(parseDuration(service.stop_grace_period)!).toBeGreaterThan(config.drainTimeout);
  });

  test("guardpost serve --check passes on the files as the task mounts them", async () => {
    const root = tempDir();
    layOut(root, {
      ...Object.fromEntries([...configTargets].map(([target, source]) => [target, readFileSync(source, "utf8")])),
      "/run/secrets/service.crt": material.cert,
      "/run/secrets/service.key": material.key,
      "/run/secrets/ca.crt": material.ca,
    });
    expect((await checkUnderRoot(root, CONFIG_FILE)).stderr).toBe("");
  });
});
