// The proxmox-api npm client (TypeScript over undici) against a PVE API: log in, read, create a VM
// and wait for its task, change it, snapshot it, then read an error back. Prints one JSON line.
// Usage: node scenario.mjs HOST PORT PASSWORD   (the CA comes from NODE_EXTRA_CA_CERTS)
import proxmoxApi from "proxmox-api";

const [host, port, password] = process.argv.slice(2);
const pve = proxmoxApi({ host, port: Number(port), username: "root@pam", password });

async function finished(node, upid) {
  for (let polls = 0; polls < 50; polls++) {
    const status = await pve.nodes.$(node).tasks.$(upid).status.$get();
    if (status.status === "stopped") return status.exitstatus;
  }
  return "still running";
}

const version = await pve.version.$get();
const nodes = (await pve.nodes.$get()).map((n) => n.node).sort();
const vmid = Number(await pve.cluster.nextid.$get());
const created = await pve.nodes.$("pve1").qemu.$post({
  vmid, name: "js01", memory: 1024, cores: 2, scsi0: "local-lvm:4", net0: "virtio,bridge=vmbr0",
});
const createStatus = await finished("pve1", created);
await pve.nodes.$("pve1").qemu.$(vmid).config.$put({ memory: 2048, description: "from js" });
const snapshot = await finished("pve1", await pve.nodes.$("pve1").qemu.$(vmid).snapshot.$post({ snapname: "js" }));
const config = await pve.nodes.$("pve1").qemu.$(vmid).config.$get();
let missing = "";
try {
  await pve.nodes.$("pve1").qemu.$(9999).config.$get();
} catch (error) {
  missing = String(error.message);
}
console.log(JSON.stringify({
  release: version.release, nodes, vmid, createStatus, snapshot, name: config.name, memory: String(config.memory),
  disk: config.scsi0, missing,
}));
