// Typed wrappers over the app's commands. Types come from the generated bindings.ts; every
// failed command rejects with an ErrorBody `{code, message}`.
import { invoke } from '@tauri-apps/api/core';
import type { AppStatus, ErrorBody } from './bindings';

export function appStatus(): Promise<AppStatus> {
  return invoke<AppStatus>('app_status');
}

/** Turns whatever a rejected command threw into `{code, message}`. */
export function toErrorBody(error: unknown): ErrorBody {
  if (error && typeof error === 'object' && 'code' in error && 'message' in error) {
    return { code: String(error.code), message: String(error.message) };
  }
  return { code: 'ipc_failed', message: error instanceof Error ? error.message : String(error) };
}
