/**
 * Test certificates made with `openssl` in a per-run temp dir, and the `-proto_dist inet_tls` arguments
 * that make a real OTP node use them (`verify_peer` and `fail_if_no_peer_cert` on both sides).
 *
 * The PKI: a CA (`ca`), a second CA nobody trusts (`rogue`), node certificates for `127.0.0.1`
 * and 127.0.0.2 (`server`, IP and DNS SANs, and `localhost`), for another name (`wrongName`), signed by the rogue CA
 * (`untrusted`) and expired (`expired`); client certificates for erlmesh signed by the CA (`client`)
 * and by the rogue CA (`rogueClient`).
 * @module
 */
import { otpRoot, type OtpVersion } from "./otp.ts";
import { tempPrefix } from "./prefix.ts";

/** A certificate and its key, as file paths. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** The files of {@link makePki}; remove {@link Pki.dir} with {@link Pki.remove}. */
export interface Pki extends AsyncDisposable {
  dir: string;
  /** The trusted CA certificate. */
  ca: string;
  /** A CA certificate nobody trusts. */
  rogueCa: string;
  server: CertFiles;
  wrongName: CertFiles;
  untrusted: CertFiles;
  expired: CertFiles;
  client: CertFiles;
  rogueClient: CertFiles;
  remove(): Promise<void>;
}

/**
 * Why TLS nodes of `version` cannot run here, or undefined when they can: `openssl` makes the
 * certificates, and the release needs OTP's `ssl` application (Debian's `erlang-ssl`, in the chroot for
 * OTP 27 and 29).
 */
export function tlsUnavailableReason(version: OtpVersion): string | undefined {
  if (!hasOpenssl()) return "'openssl' is not on PATH";
  const lib = `${version === "25" ? "" : otpRoot(version)}/usr/lib/erlang/lib`;
  try {
    for (const e of Deno.readDirSync(lib)) if (e.name.startsWith("ssl-")) return undefined;
  } catch { /* no such directory: said below */ }
  return `OTP ${version} has no ssl application in ${lib} (install erlang-ssl${
    version === "25" ? "" : " in that root"
  })`;
}

/** True when `openssl` can be run. */
export function hasOpenssl(): boolean {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** A CA: self-signed, EC P-256. */
async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-subj",
    `/CN=erlmesh test ${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
}

/**
 * A leaf certificate signed by `ca`, usable as TLS server and client (nodes are both), with
 * `sans` (`IP:127.0.0.1`, `DNS:localhost`); `days` < 0 makes it expired.
 */
async function makeLeaf(dir: string, name: string, ca: string, sans: string[], days = 2): Promise<void> {
  await openssl(dir, [
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${name}`,
  ]);
  await Deno.writeTextFile(
    `${dir}/${name}.ext`,
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth,clientAuth",
      `subjectAltName=${sans.join(",")}`,
      "",
    ].join("\n"),
  );
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${name}.pem`,
    "-days",
    String(days),
    "-extfile",
    `${name}.ext`,
  ]);
}

/** Makes the test PKI in a fresh temp dir (under `parent` when given). */
export async function makePki(parent?: string): Promise<Pki> {
  const dir = await Deno.makeTempDir({ dir: parent, prefix: tempPrefix("tls") });
  const remove = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  try {
    await makeCa(dir, "ca");
    await makeCa(dir, "rogue");
    // OTP 25 checks an IP host name of a peer node as a DNS name (dns_id "127.0.0.1", "::1"; OTP 27 and
    // 29 match IPv6 IP SANs too); erlmesh (rustls) as an IP address: a certificate for IP-named nodes
    // carries both.
    const local = [
      "IP:127.0.0.1",
      "IP:127.0.0.2",
      "IP:::1",
      "DNS:127.0.0.1",
      "DNS:127.0.0.2",
      "DNS:::1",
      "DNS:localhost",
    ];
    await makeLeaf(dir, "server", "ca", local);
    await makeLeaf(dir, "wrongname", "ca", ["IP:10.9.9.9", "DNS:elsewhere.invalid"]);
    await makeLeaf(dir, "untrusted", "rogue", local);
    await makeLeaf(dir, "expired", "ca", local, -1);
    await makeLeaf(dir, "client", "ca", ["DNS:erlmesh.invalid"]);
    await makeLeaf(dir, "rogueclient", "rogue", ["DNS:erlmesh.invalid"]);
  } catch (err) {
    await remove();
    throw err;
  }
  const files = (name: string): CertFiles => ({ cert: `${dir}/${name}.pem`, key: `${dir}/${name}.key` });
  return {
    dir,
    ca: `${dir}/ca.pem`,
    rogueCa: `${dir}/rogue.pem`,
    server: files("server"),
    wrongName: files("wrongname"),
    untrusted: files("untrusted"),
    expired: files("expired"),
    client: files("client"),
    rogueClient: files("rogueclient"),
    remove,
    [Symbol.asyncDispose]: remove,
  };
}

/** Options of {@link nodeTlsArgs}. */
export interface NodeTlsOptions {
  /** The node's certificate. @default pki.server */
  node?: CertFiles;
  /** The CA the node trusts for its peers (erlmesh included). @default pki.ca */
  ca?: string;
  /** `inet_tls` or `inet6_tls`. @default "inet_tls" */
  proto?: "inet_tls" | "inet6_tls";
}

/** The arguments of a TLS node, and the copy of its files to remove afterwards. */
export interface NodeTls extends AsyncDisposable {
  args: string[];
  remove(): Promise<void>;
}

/**
 * The `erl` arguments of a node running TLS distribution with `pki`'s files: `-proto_dist inet_tls
 * -ssl_dist_optfile F`, both sides `verify_peer`, the server `fail_if_no_peer_cert`. For OTP 27/29 the
 * files are copied into the chroot's /tmp (the node sees only its root).
 */
export async function nodeTlsArgs(
  pki: Pki,
  version: OtpVersion,
  options: NodeTlsOptions = {},
): Promise<NodeTls> {
  const root = version === "25" ? undefined : otpRoot(version);
  const hostDir = await Deno.makeTempDir({
    dir: root ? `${root}/tmp` : undefined,
    prefix: tempPrefix("ntls"),
  });
  const nodeDir = root ? hostDir.slice(root.length) : hostDir;
  const node = options.node ?? pki.server;
  await Deno.copyFile(node.cert, `${hostDir}/node.pem`);
  await Deno.copyFile(node.key, `${hostDir}/node.key`);
  await Deno.copyFile(options.ca ?? pki.ca, `${hostDir}/ca.pem`);
  const common = `{certfile, "${nodeDir}/node.pem"}, {keyfile, "${nodeDir}/node.key"}, ` +
    `{cacertfile, "${nodeDir}/ca.pem"}, {verify, verify_peer}, {secure_renegotiate, true}`;
  await Deno.writeTextFile(
    `${hostDir}/ssl_dist.conf`,
    `[{server, [${common}, {fail_if_no_peer_cert, true}]},\n {client, [${common}]}].\n`,
  );
  const remove = () => Deno.remove(hostDir, { recursive: true }).catch(() => {});
  return {
    args: ["-proto_dist", options.proto ?? "inet_tls", "-ssl_dist_optfile", `${nodeDir}/ssl_dist.conf`],
    remove,
    [Symbol.asyncDispose]: remove,
  };
}

/** The host a node certificate is for: a pod's FQDN (StatefulSet node names) and its IP (Deployment ones). */
export interface CertHost {
  /** A name for the files, unique within the PKI (the pod's name). */
  name: string;
  fqdn: string;
  ip: string;
}

/**
 * A node certificate for one pod, signed by the PKI's CA (or, with `signer: "rogue"`, by the CA nobody
 * trusts): DNS SANs for its FQDN and its IP (OTP 25 checks an IP-named peer against DNS names) and an IP
 * SAN for its IP (erlmesh, OTP 27 and 29). Made once per name and signer.
 */
export async function podCert(pki: Pki, host: CertHost, signer: "ca" | "rogue" = "ca"): Promise<CertFiles> {
  const name = `pod-${signer}-${host.name.replace(/[^A-Za-z0-9_.-]/g, "_")}`;
  const files = { cert: `${pki.dir}/${name}.pem`, key: `${pki.dir}/${name}.key` };
  // One at a time: openssl's -CAcreateserial reads and rewrites the CA's serial file.
  const made = podCerts.then(async () => {
    try {
      await Deno.stat(files.cert);
    } catch {
      await makeLeaf(pki.dir, name, signer, [`DNS:${host.fqdn}`, `DNS:${host.ip}`, `IP:${host.ip}`]);
    }
  });
  podCerts = made.catch(() => {});
  await made;
  return files;
}
let podCerts: Promise<void> = Promise.resolve();
