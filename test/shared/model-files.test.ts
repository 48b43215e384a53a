import { describe, expect, it } from 'vitest';
import { chooseGraph, graphFileOf, graphProblems } from '@polyprune/shared/model-files';

describe('graphFileOf', () => {
  it('picks by exporter precedence among the names real exports use', () => {
    const optimum = ['decoder_model.onnx', 'decoder_with_past_model.onnx', 'decoder_model_merged.onnx', 'decoder_model_merged.onnx_data', 'tokenizer.json'];
    expect(graphFileOf(optimum)).toBe('decoder_model_merged.onnx');
    expect(graphFileOf(['model.onnx', 'model.onnx.data', 'genai_config.json'])).toBe('model.onnx');
    expect(graphFileOf(['decoder_model.onnx', 'decoder_with_past_model.onnx'])).toBe('decoder_model.onnx');
    expect(graphFileOf(['model_fp16.onnx', 'model_fp16.onnx_data', 'tokenizer.json'])).toBe('model_fp16.onnx');
    expect(graphFileOf(['model.onnx', 'model_quantized.onnx'])).toBe('model.onnx');
  });

  it('never picks decoder_with_past_model.onnx, and leaves several unranked candidates to the owner', () => {
    expect(chooseGraph(['decoder_with_past_model.onnx', 'tokenizer.json'])).toEqual({ withPastOnly: true });
    expect(chooseGraph(['model_fp16.onnx', 'model_q4.onnx'])).toEqual({ ambiguous: ['model_fp16.onnx', 'model_q4.onnx'] });
    expect(graphFileOf(['model_fp16.onnx', 'model_q4.onnx'], 'model_fp16.onnx')).toBe('model_fp16.onnx');
    expect(graphFileOf(['model.onnx', 'model_fp16.onnx'], 'model_fp16.onnx')).toBe('model_fp16.onnx');
    // A choice that is not (or no longer) uploaded does not count.
    expect(graphFileOf(['model.onnx'], 'gone.onnx')).toBe('model.onnx');
    expect(graphFileOf(['tokenizer.json'])).toBeUndefined();
  });
});

describe('graphProblems', () => {
  it('names quantized ops and search wrappers with what to upload instead', () => {
    expect(graphProblems('model.onnx', ['ai.onnx:MatMul', 'com.microsoft:GroupQueryAttention'])).toEqual([]);
    const [q] = graphProblems('model.onnx', ['ai.onnx:DequantizeLinear', 'com.microsoft:MatMulNBits']);
    expect(q).toMatch(/^model\.onnx is quantized \(DequantizeLinear, MatMulNBits\): polyprune prunes fp32\/fp16 weights — upload the fp32 or fp16 export/);
    const [w] = graphProblems('model.onnx', ['com.microsoft:BeamSearch']);
    expect(w).toMatch(/com\.microsoft:BeamSearch.*plain decoder/);
  });
});
