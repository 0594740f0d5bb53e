// "Rol (lane)": the lane a flow node sits in. Choosing another lane moves the shape into it, so the
// diagram and the lane's flowNodeRefs stay in step (bpmn-js updates the refs when a shape moves).
import { SelectEntry } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { is } from 'bpmn-js/lib/util/ModelUtil';

/** Every lane shape of the pool (or process) the element belongs to, top to bottom. */
export function lanesOf(element, elementRegistry) {
  const pool = poolOf(element);
  return elementRegistry
    .filter((shape) => is(shape, 'bpmn:Lane') && poolOf(shape) === pool && !hasChildLanes(shape))
    .sort((a, b) => a.y - b.y || a.x - b.x);
}

/** The lane shape whose lane lists the element (in flowNodeRef), or undefined. */
export function laneOf(element, elementRegistry) {
  const node = element.businessObject;
  return lanesOf(element, elementRegistry).find((lane) => (lane.businessObject.get('flowNodeRef') || []).includes(node));
}

function poolOf(shape) {
  let current = shape.parent;
  while (current && !is(current, 'bpmn:Participant') && current.parent) {
    current = current.parent;
  }
  return current;
}

function hasChildLanes(laneShape) {
  const childLaneSet = laneShape.businessObject.get('childLaneSet');
  return !!(childLaneSet && (childLaneSet.get('lanes') || []).length);
}

function isHorizontal(laneShape) {
  const di = laneShape.di;
  return !di || di.get('isHorizontal') !== false;
}

export function isLaneMember(element) {
  return is(element, 'bpmn:FlowNode') && !element.labelTarget && !is(element.parent, 'bpmn:SubProcess');
}

function describe(element, attached, translate) {
  if (attached) {
    return translate('Een gebeurtenis op de rand van een taak ligt in de lane van die taak.');
  }
  if (is(element, 'bpmn:UserTask')) {
    return translate('Alleen deze rol mag de taak uitvoeren. Kiezen verplaatst de taak naar die lane.');
  }
  return translate('De rol in wiens lane dit element staat. Kiezen verplaatst het naar die lane.');
}

export function LaneEntry(props) {
  const { element, id } = props;
  const elementRegistry = useService('elementRegistry');
  const modeling = useService('modeling');
  const translate = useService('translate');
  const attached = is(element, 'bpmn:BoundaryEvent');

  const getValue = () => {
    const lane = laneOf(element, elementRegistry);
    return lane ? lane.id : '';
  };

  const setValue = (laneId) => {
    const lane = elementRegistry.get(laneId);
    if (!lane || attached) {
      return;
    }
    const delta = isHorizontal(lane)
      ? { x: 0, y: Math.round(lane.y + lane.height / 2 - (element.y + element.height / 2)) }
      : { x: Math.round(lane.x + lane.width / 2 - (element.x + element.width / 2)), y: 0 };
    // moveElements takes the boundary events along with their task
    modeling.moveElements([ element ], delta);
  };

  const getOptions = () => {
    const options = lanesOf(element, elementRegistry).map((lane) => ({
      value: lane.id,
      label: lane.businessObject.get('name') || translate('(lane zonder naam: {id})', { id: lane.id }),
    }));
    if (!getValue()) {
      options.unshift({ value: '', label: translate('(in geen lane)') });
    }
    return options;
  };

  return SelectEntry({
    element,
    id,
    label: translate('Rol (lane)'),
    description: describe(element, attached, translate),
    getValue,
    setValue,
    getOptions,
    disabled: attached,
  });
}
