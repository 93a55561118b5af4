/**
 * A small ONNX graph builder over onnx-buf's generated protobuf messages (opset 17 default domain, plus
 * com.microsoft version 1 when a contrib operator such as MatMulNBits is used).
 */
import { create, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  TensorProto_DataType,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from 'onnx-buf';

export const ONNX_OPSET = 17;
export const MS_DOMAIN = 'com.microsoft';
export { TensorProto_DataType as OnnxType };

/** Initializer contents: float32, int64, int8, uint8, or float16 bits (Uint16Array). */
export type TensorData = Float32Array | BigInt64Array | Int8Array | Uint8Array | Uint16Array;

function dataTypeOf(data: TensorData): TensorProto_DataType {
  if (data instanceof Float32Array) return TensorProto_DataType.FLOAT;
  if (data instanceof Int8Array) return TensorProto_DataType.INT8;
  if (data instanceof Uint8Array) return TensorProto_DataType.UINT8;
  if (data instanceof Uint16Array) return TensorProto_DataType.FLOAT16;
  return TensorProto_DataType.INT64;
}

export type AttributeValue = number | number[] | { int: number } | { ints: number[] } | { float: number };

function attribute(name: string, value: AttributeValue): AttributeProto {
  if (typeof value === 'object' && 'int' in value) return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i: BigInt(value.int) });
  if (typeof value === 'object' && 'ints' in value) return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INTS, ints: value.ints.map(BigInt) });
  if (typeof value === 'object' && 'float' in value) return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOAT, f: value.float });
  if (Array.isArray(value)) return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INTS, ints: value.map(BigInt) });
  return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i: BigInt(value) });
}

function valueInfo(name: string, type: TensorProto_DataType, dims: readonly (number | string)[]): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: {
        case: 'tensorType',
        value: create(TypeProto_TensorSchema, {
          elemType: type,
          shape: create(TensorShapeProtoSchema, {
            dim: dims.map((d) => create(TensorShapeProto_DimensionSchema, { value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d } })),
          }),
        }),
      },
    }),
  });
}

export class GraphBuilder {
  private nodes: NodeProto[] = [];
  private initializers: TensorProto[] = [];
  private inputs: ValueInfoProto[] = [];
  private outputs: ValueInfoProto[] = [];
  private counter = 0;
  private constants = new Map<string, string>();
  private domains = new Set<string>();
  /** bytes of all initializers so far */
  initializerBytes = 0;

  input(name: string, type: TensorProto_DataType, dims: readonly (number | string)[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: TensorProto_DataType, dims: readonly (number | string)[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** An initializer; its element type follows the array (Uint16Array holds float16 bits). */
  tensor(name: string, dims: readonly number[], data: TensorData): string {
    const rawData = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer);
    const dataType = dataTypeOf(data);
    this.initializers.push(create(TensorProtoSchema, { name, dims: dims.map(BigInt), dataType, rawData }));
    this.initializerBytes += rawData.byteLength;
    return name;
  }

  /** A shared int64 / float scalar or vector constant. */
  ints(values: readonly number[], scalar = false): string {
    const key = `i${scalar ? 's' : ''}:${values.join(',')}`;
    let name = this.constants.get(key);
    if (!name) {
      name = `const_${this.constants.size}`;
      this.tensor(name, scalar ? [] : [values.length], BigInt64Array.from(values.map(BigInt)));
      this.constants.set(key, name);
    }
    return name;
  }

  float(value: number): string {
    const key = `f:${value}`;
    let name = this.constants.get(key);
    if (!name) {
      name = `const_${this.constants.size}`;
      this.tensor(name, [], Float32Array.of(value));
      this.constants.set(key, name);
    }
    return name;
  }

  /** Adds a node; returns its output names (fresh unless given). */
  op(opType: string, inputs: readonly string[], attributes: Record<string, AttributeValue> = {}, outputs: number | readonly string[] = 1, domain = ''): string[] {
    const outputNames = typeof outputs === 'number' ? Array.from({ length: outputs }, () => `t${this.counter++}`) : [...outputs];
    if (domain) this.domains.add(domain);
    this.nodes.push(
      create(NodeProtoSchema, {
        name: `${opType}_${this.nodes.length}`,
        opType,
        domain,
        input: [...inputs],
        output: outputNames,
        attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
      }),
    );
    return outputNames;
  }

  /** Single-output op. */
  op1(opType: string, inputs: readonly string[], attributes: Record<string, AttributeValue> = {}, output?: string): string {
    return this.op(opType, inputs, attributes, output ? [output] : 1)[0];
  }

  /** A single-output com.microsoft contrib operator. */
  contrib1(opType: string, inputs: readonly string[], attributes: Record<string, AttributeValue> = {}): string {
    return this.op(opType, inputs, attributes, 1, MS_DOMAIN)[0];
  }

  model(name: string): ModelProto {
    const graph = create(GraphProtoSchema, { name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs });
    return create(ModelProtoSchema, {
      irVersion: 8n,
      producerName: 'halo-forge',
      opsetImport: [
        create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(ONNX_OPSET) }),
        ...[...this.domains].map((domain) => create(OperatorSetIdProtoSchema, { domain, version: 1n })),
      ],
      graph,
    });
  }

  serialize(name: string): Uint8Array {
    return serializeModel(this.model(name));
  }
}

export function serializeModel(model: ModelProto): Uint8Array {
  return toBinary(ModelProtoSchema, model);
}
