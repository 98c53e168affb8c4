// For the faces: stray rejections of app code (src/executor/stray-rejections.ts).
export { isAppRejection, reportStrayRejections } from '../executor/stray-rejections.js';
