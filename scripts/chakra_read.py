#!/usr/bin/env python3
"""A second, independent reader of deploydag's Chakra traces (issue 19): Google's protobuf package
decodes DIR/NAME.RANK.et against the same message definitions (Protos/chakra_et_def.desc, the
descriptor set of Protos/chakra_et_def.proto), and the traces are checked against themselves,
their comm-group file, and what `deploydag analyze --format json` reports.

    scripts/chakra_read.py DIR ANALYZE_JSON    exit 0 when every check holds, else 1 with the reasons
"""
import json, os, re, sys
from collections import defaultdict

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
descriptors = descriptor_pb2.FileDescriptorSet.FromString(open(os.path.join(root, "Protos/chakra_et_def.desc"), "rb").read())
pool = descriptor_pool.DescriptorPool()
for proto in descriptors.file:
    pool.Add(proto)
Node = message_factory.GetMessageClass(pool.FindMessageTypeByName("ChakraProtoMsg.Node"))
GlobalMetadata = message_factory.GetMessageClass(pool.FindMessageTypeByName("ChakraProtoMsg.GlobalMetadata"))
NodeType = pool.FindEnumTypeByName("ChakraProtoMsg.NodeType").values_by_name
CommType = {v.number: v.name for v in pool.FindEnumTypeByName("ChakraProtoMsg.CollectiveCommType").values}
KIND = {"ALL_REDUCE": "all_reduce", "ALL_GATHER": "all_gather", "REDUCE_SCATTER": "reduce_scatter", "ALL_TO_ALL": "all_to_all"}


def messages(path):
    """The length-delimited messages of a file: a varint byte count, then the message."""
    data = open(path, "rb").read()
    at = 0
    while at < len(data):
        count, shift = 0, 0
        while True:
            byte = data[at]
            at += 1
            count |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if at + count > len(data):
            raise ValueError(f"{path}: a message runs past the end of the file")
        yield data[at:at + count]
        at += count


def attrs(node):
    return {a.name: a for a in node.attr}


def main(directory, analyze_json):
    problems = []
    files = {}
    for name in os.listdir(directory):
        m = re.fullmatch(r"(.+)\.(\d+)\.et", name)
        if m:
            files[int(m.group(2))] = (m.group(1), os.path.join(directory, name))
    prefixes = {p for p, _ in files.values()}
    if len(prefixes) != 1 or sorted(files) != list(range(len(files))):
        return [f"expected one prefix and ranks 0..N-1, got {sorted(prefixes)} and ranks {sorted(files)}"]
    prefix = prefixes.pop()
    groups = {int(k): v for k, v in json.load(open(os.path.join(directory, f"{prefix}.json"))).items()}
    per_kind = defaultdict(float)
    sends, recvs = {}, {}
    coll_ranks = defaultdict(set)
    for rank in sorted(files):
        chunks = list(messages(files[rank][1]))
        meta = GlobalMetadata.FromString(chunks[0])
        if meta.version != "0.0.4":
            problems.append(f"rank {rank}: version {meta.version!r}")
        seen = set()
        for chunk in chunks[1:]:
            node = Node.FromString(chunk)
            a = attrs(node)
            for dep in node.data_deps:
                if dep not in seen:
                    problems.append(f"rank {rank}: {node.name} depends on {dep}, not earlier in its file")
            seen.add(node.id)
            if node.type == NodeType["COMM_COLL_NODE"].number:
                kind = KIND[CommType[a["comm_type"].int64_val]]
                per_kind[kind] += a["comm_size"].int64_val
                group = int(a["pg_name"].string_val)
                if rank not in groups.get(group, []):
                    problems.append(f"rank {rank}: {node.name} is in process group {group}, which does not list rank {rank}")
                coll_ranks[(node.id, group)].add(rank)
            elif node.type == NodeType["COMM_SEND_NODE"].number:
                per_kind["send_recv"] += a["comm_size"].int64_val
                if a["comm_src"].int32_val != rank:
                    problems.append(f"rank {rank}: send {node.name} says comm_src {a['comm_src'].int32_val}")
                sends[a["comm_tag"].int32_val] = (rank, a["comm_dst"].int32_val, a["comm_size"].int64_val)
            elif node.type == NodeType["COMM_RECV_NODE"].number:
                if a["comm_dst"].int32_val != rank:
                    problems.append(f"rank {rank}: receive {node.name} says comm_dst {a['comm_dst'].int32_val}")
                recvs[a["comm_tag"].int32_val] = (a["comm_src"].int32_val, rank, a["comm_size"].int64_val)
            elif node.type == NodeType["COMP_NODE"].number:
                if "num_ops" not in a or "tensor_size" not in a:
                    problems.append(f"rank {rank}: compute node {node.name} without num_ops and tensor_size")
            else:
                problems.append(f"rank {rank}: {node.name} has node type {node.type}")
    if sends != recvs:
        problems.append(f"sends and receives do not pair up by tag: {len(sends)} sends, {len(recvs)} receives")
    for (node, group), ranks in coll_ranks.items():
        if ranks != set(groups[group]):
            problems.append(f"collective {node} appears on ranks {sorted(ranks)}, its group {group} is {groups[group]}")
    reported = json.load(open(analyze_json))["contributed_bytes_by_kind"]
    if set(reported) != set(per_kind):
        problems.append(f"kinds: analyze {sorted(reported)}, traces {sorted(per_kind)}")
    for kind, value in reported.items():
        if abs(per_kind.get(kind, 0) - value) > max(1.0, value * 1e-9):
            problems.append(f"{kind}: traces carry {per_kind.get(kind, 0):.0f} bytes, analyze reports {value:.0f}")
    print(f"chakra_read: {directory}: {len(files)} ranks, {len(coll_ranks)} collectives, {len(sends)} send/recv pairs, "
          + ", ".join(f"{k} {v:.0f} B" for k, v in sorted(per_kind.items())))
    return problems


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    found = main(sys.argv[1], sys.argv[2])
    for p in found[:20]:
        print("chakra_read: " + p, file=sys.stderr)
    sys.exit(1 if found else 0)
